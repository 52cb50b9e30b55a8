-- Undo 0014_run_archive. Archived runs' rows stay in their files: restore them first
-- (evaltool load archive FILE), or their runs keep only their statistics.
ALTER TABLE evaltool.run_partition DROP COLUMN dropped_at;
DROP TABLE evaltool.run_archived;
