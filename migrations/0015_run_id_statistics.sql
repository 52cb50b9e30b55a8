-- 0015_run_id_statistics: the planner's view of a run that ANALYZE has not seen yet.
-- A run's responses and scores are read right after they are written (its statistics at
-- the commit that scored it, then compare and the reports), before autovacuum analyzes
-- their partition again. With full statistics on run_id, every run already in the partition
-- is in its list of most common values, so a run missing from that list is estimated at
-- one row, and the planner loops over one run's scores once per response of the other:
-- compare_runs of two new runs of 10,000 responses took 87 s instead of 0.07 s. With a
-- statistics target of 1, at most one (much larger) run is listed, and any other run,
-- new or not, is estimated at the partition's average run: the right size for a new run.
-- Partitions made later get the same target (evaltool.ensure_run_partitions).
-- depends: 0014_run_archive

ALTER TABLE evaltool.response ALTER COLUMN run_id SET STATISTICS 1;
ALTER TABLE evaltool.score ALTER COLUMN run_id SET STATISTICS 1;

-- Replace the full statistics already gathered, which would otherwise stay until
-- autovacuum next analyzes each partition.
ANALYZE evaltool.response (run_id);
ANALYZE evaltool.score (run_id);
