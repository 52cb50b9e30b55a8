-- Undo 0012_run_metric_stats: the stored statistics go; sql/ makes run_metric_stats a
-- materialized view again (filled at once) and model_performance reads that.
DROP TABLE evaltool.run_stats_stale;
DROP TABLE evaltool.run_metric_stats;
COMMENT ON COLUMN evaltool.refresh_log.view_name IS 'Materialized view refreshed, schema-qualified.';
COMMENT ON COLUMN evaltool.refresh_log.concurrent IS 'Whether REFRESH ... CONCURRENTLY was used (readers were not blocked).';
COMMENT ON COLUMN evaltool.refresh_log.rows IS 'Rows in the materialized view after the refresh.';
