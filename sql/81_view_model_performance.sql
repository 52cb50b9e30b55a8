-- requires: 0012_run_metric_stats
-- evaltool.model_performance: dashboards over run_metric_stats, the table that migration
-- 0012 keeps current at each commit (sql/81_fn_run_stats.sql).
CREATE OR REPLACE VIEW evaltool.model_performance AS
SELECT m.name AS model, d.name AS dataset, d.version AS dataset_version, s.metric,
       count(*) AS runs,
       avg(s.pass_rate) AS mean_pass_rate,
       avg(s.mean) AS mean_value,
       (array_agg(s.pass_rate ORDER BY r.created_at DESC, r.id DESC))[1] AS latest_pass_rate,
       (array_agg(s.mean ORDER BY r.created_at DESC, r.id DESC))[1] AS latest_value,
       max(r.id) AS latest_run_id,
       max(r.created_at) AS latest_run_at
FROM evaltool.run_metric_stats s
JOIN evaltool.run r ON r.id = s.run_id
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
WHERE r.status = 'completed'
GROUP BY m.name, d.name, d.version, s.metric;

COMMENT ON VIEW evaltool.model_performance IS
    'Per model, dataset and metric over completed runs, from run_metric_stats: how many runs, mean pass rate and value across them, and the latest run''s.';
COMMENT ON COLUMN evaltool.model_performance.model IS 'Registry name of the model.';
COMMENT ON COLUMN evaltool.model_performance.dataset IS 'Dataset name.';
COMMENT ON COLUMN evaltool.model_performance.dataset_version IS 'Dataset version.';
COMMENT ON COLUMN evaltool.model_performance.metric IS 'Metric name.';
COMMENT ON COLUMN evaltool.model_performance.runs IS 'Completed runs with this metric.';
COMMENT ON COLUMN evaltool.model_performance.mean_pass_rate IS 'Mean of the runs'' pass rates.';
COMMENT ON COLUMN evaltool.model_performance.mean_value IS 'Mean of the runs'' mean values.';
COMMENT ON COLUMN evaltool.model_performance.latest_pass_rate IS 'Pass rate of the latest run.';
COMMENT ON COLUMN evaltool.model_performance.latest_value IS 'Mean value of the latest run.';
COMMENT ON COLUMN evaltool.model_performance.latest_run_id IS 'The latest run.';
COMMENT ON COLUMN evaltool.model_performance.latest_run_at IS 'When the latest run was created.';
