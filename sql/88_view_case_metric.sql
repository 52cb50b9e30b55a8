-- requires: 0009_repeats
-- requires: 0013_partition_by_run
-- evaltool.case_metric: each metric of each test case of a run, over the run's samples of
-- it (evaltool run --repeats K). With K = 1 a row holds the one score of the test case.
-- A filter on run_id (a grouping column) reaches the scan, so one run's rows are cheap.
CREATE OR REPLACE VIEW evaltool.case_metric AS
SELECT r.run_id, r.prompt_id, s.metric,
       count(*) AS samples,
       count(s.passed) AS n_judged,
       count(*) FILTER (WHERE s.passed) AS n_passed,
       count(*) FILTER (WHERE s.passed)::double precision / nullif(count(s.passed), 0)
           AS pass_rate,
       avg(s.value) AS mean,
       min(s.value) AS min,
       max(s.value) AS max
FROM evaltool.response r
JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
GROUP BY r.run_id, r.prompt_id, s.metric;

COMMENT ON VIEW evaltool.case_metric IS
    'Per run, test case and metric, over the run''s samples of the test case (run.repeats): how many were scored and judged, how many passed, the pass rate, and the mean, smallest and largest value.';
COMMENT ON COLUMN evaltool.case_metric.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.case_metric.prompt_id IS 'The test case.';
COMMENT ON COLUMN evaltool.case_metric.metric IS 'Metric name.';
COMMENT ON COLUMN evaltool.case_metric.samples IS 'Samples of the test case with a score of this metric.';
COMMENT ON COLUMN evaltool.case_metric.n_judged IS 'Of those, scores with a pass/fail verdict.';
COMMENT ON COLUMN evaltool.case_metric.n_passed IS 'Scores that passed.';
COMMENT ON COLUMN evaltool.case_metric.pass_rate IS 'n_passed / n_judged; NULL for metrics without a verdict.';
COMMENT ON COLUMN evaltool.case_metric.mean IS 'Mean value over the samples.';
COMMENT ON COLUMN evaltool.case_metric.min IS 'Smallest value.';
COMMENT ON COLUMN evaltool.case_metric.max IS 'Largest value.';
