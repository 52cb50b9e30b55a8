-- evaltool.run_metric_summary: statistics of each metric of each run, computed live.
-- evaltool.run_metric_stats (next file) keeps a materialized copy for dashboards.
CREATE OR REPLACE VIEW evaltool.run_metric_summary AS
WITH agg AS (
    SELECT r.run_id, s.metric,
           count(*) AS n,
           count(*) FILTER (WHERE s.passed IS NOT NULL) AS n_judged,
           count(*) FILTER (WHERE s.passed) AS n_passed,
           avg(s.value) AS mean,
           stddev_samp(s.value) AS stddev,
           min(s.value) AS min,
           max(s.value) AS max,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY s.value) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY s.value) AS p95,
           count(s.value) AS n_values,
           max(s.scorer) AS scorer,
           max(s.scorer_version) AS scorer_version,
           max(s.updated_at) AS scored_at
    FROM evaltool.response r
    JOIN evaltool.score s ON s.response_id = r.id
    GROUP BY r.run_id, s.metric
)
SELECT a.run_id, a.metric, a.n, a.n_passed,
       a.n_passed::double precision / nullif(a.n_judged, 0) AS pass_rate,
       w.low AS pass_rate_low, w.high AS pass_rate_high,
       a.mean, a.stddev, a.min, a.max, a.p50, a.p95,
       a.mean - t.half AS mean_low, a.mean + t.half AS mean_high,
       a.scorer, a.scorer_version, a.scored_at
FROM agg a
LEFT JOIN LATERAL evaltool.wilson_interval(a.n_passed, a.n_judged) AS w ON true
-- The CASE, not a WHERE, guards the t quantile: the planner may evaluate a lateral
-- subquery's output before its filter, and one value has no t interval.
LEFT JOIN LATERAL (
    SELECT CASE WHEN a.n_values > 1
                THEN evaltool.t_quantile(0.975, a.n_values - 1) * a.stddev / sqrt(a.n_values) END
) AS t(half) ON true;

COMMENT ON VIEW evaltool.run_metric_summary IS
    'Per run and metric, computed live from the scores: n, pass rate with its 95% Wilson interval, mean with its 95% t interval, stddev, min, max, median and 95th percentile of the values.';
COMMENT ON COLUMN evaltool.run_metric_summary.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.run_metric_summary.metric IS 'Metric name (e.g. exact_match or exact_match:case).';
COMMENT ON COLUMN evaltool.run_metric_summary.n IS 'Scores of this metric in the run.';
COMMENT ON COLUMN evaltool.run_metric_summary.n_passed IS 'Scores that passed.';
COMMENT ON COLUMN evaltool.run_metric_summary.pass_rate IS 'Passed / scores with a pass/fail verdict; NULL for metrics without one.';
COMMENT ON COLUMN evaltool.run_metric_summary.pass_rate_low IS 'Lower end of the 95% Wilson interval of the pass rate.';
COMMENT ON COLUMN evaltool.run_metric_summary.pass_rate_high IS 'Upper end of the 95% Wilson interval of the pass rate.';
COMMENT ON COLUMN evaltool.run_metric_summary.mean IS 'Mean value.';
COMMENT ON COLUMN evaltool.run_metric_summary.stddev IS 'Sample standard deviation of the values.';
COMMENT ON COLUMN evaltool.run_metric_summary.min IS 'Smallest value.';
COMMENT ON COLUMN evaltool.run_metric_summary.max IS 'Largest value.';
COMMENT ON COLUMN evaltool.run_metric_summary.p50 IS 'Median value (interpolated).';
COMMENT ON COLUMN evaltool.run_metric_summary.p95 IS '95th percentile of the values (interpolated).';
COMMENT ON COLUMN evaltool.run_metric_summary.mean_low IS 'Lower end of the 95% t interval of the mean.';
COMMENT ON COLUMN evaltool.run_metric_summary.mean_high IS 'Upper end of the 95% t interval of the mean.';
COMMENT ON COLUMN evaltool.run_metric_summary.scorer IS 'Scorer that wrote the scores (the latest name where several did).';
COMMENT ON COLUMN evaltool.run_metric_summary.scorer_version IS 'Scorer version (the highest where several).';
COMMENT ON COLUMN evaltool.run_metric_summary.scored_at IS 'When the last of these scores was written.';
