-- Undo 0015_run_id_statistics: run_id gets the default statistics target again (the
-- partitions' own settings included); the next ANALYZE gathers full statistics.
ALTER TABLE evaltool.response ALTER COLUMN run_id SET STATISTICS -1;
ALTER TABLE evaltool.score ALTER COLUMN run_id SET STATISTICS -1;
