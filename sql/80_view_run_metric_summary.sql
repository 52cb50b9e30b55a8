-- requires: 0009_repeats
-- requires: 0013_partition_by_run
-- evaltool.run_metric_summary: statistics of each metric of each run, computed live.
-- evaltool.run_metric_stats (next file) keeps a materialized copy for dashboards.
--
-- A run with repeats (K > 1 samples per test case) is summarised with the test case as
-- the unit, since the samples of one test case are not independent: the pass rate is the
-- mean of the test cases' pass rates with a t interval over them, and the mean, its
-- interval, stddev, p50 and p95 are those of the test cases' means. A run of K = 1 is
-- summarised over its scores, with the Wilson interval of the pass rate.
--
-- Two levels of aggregation: `agg` groups a K = 1 run's scores per metric (the case key is
-- NULL) and a K > 1 run's per metric and test case; `stat` passes a K = 1 row through
-- unchanged (its group has that one row) and aggregates the test cases of a K > 1 run.
-- So a K = 1 run costs one aggregation over its scores, as before repeats.
CREATE OR REPLACE VIEW evaltool.run_metric_summary AS
WITH agg AS (
    SELECT r.run_id, s.metric,
           CASE WHEN ru.repeats > 1 THEN r.prompt_id END AS case_id,
           count(*) AS n,
           count(*) FILTER (WHERE s.passed IS NOT NULL) AS n_judged,
           count(*) FILTER (WHERE s.passed) AS n_passed,
           avg(s.value) AS mean,
           stddev_samp(s.value) AS stddev,
           min(s.value) AS min,
           max(s.value) AS max,
           -- unused per test case: filtered out there, as sorting each one's K values costs
           percentile_cont(0.5) WITHIN GROUP (ORDER BY s.value) FILTER (WHERE ru.repeats = 1)
               AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY s.value) FILTER (WHERE ru.repeats = 1)
               AS p95,
           count(s.value) AS n_values,
           max(s.scorer) AS scorer,
           max(s.scorer_version) AS scorer_version,
           max(s.updated_at) AS scored_at
    FROM evaltool.response r
    JOIN evaltool.run ru ON ru.id = r.run_id
    JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
    GROUP BY r.run_id, s.metric, CASE WHEN ru.repeats > 1 THEN r.prompt_id END
), stat AS (
    -- by_case: the rows are a K > 1 run's test cases. Otherwise max() of the one row is
    -- that row's value, exactly.
    SELECT a.run_id, a.metric,
           count(a.case_id) > 0 AS by_case,
           sum(a.n)::bigint AS n,
           sum(a.n_judged)::bigint AS n_judged,
           sum(a.n_passed)::bigint AS n_passed,
           CASE WHEN count(a.case_id) = 0 THEN max(a.n) ELSE count(*) END AS n_cases,
           -- the test cases' pass rates (K > 1)
           avg(a.n_passed::double precision / nullif(a.n_judged, 0)) AS case_pass_rate,
           stddev_samp(a.n_passed::double precision / nullif(a.n_judged, 0)) AS case_pass_sd,
           count(nullif(a.n_judged, 0)) AS judged_cases,
           CASE WHEN count(a.case_id) = 0 THEN max(a.mean) ELSE avg(a.mean) END AS mean,
           CASE WHEN count(a.case_id) = 0 THEN max(a.stddev)
                ELSE stddev_samp(a.mean) END AS stddev,
           min(a.min) AS min,
           max(a.max) AS max,
           CASE WHEN count(a.case_id) = 0 THEN max(a.p50)
                ELSE percentile_cont(0.5) WITHIN GROUP (ORDER BY a.mean) END AS p50,
           CASE WHEN count(a.case_id) = 0 THEN max(a.p95)
                ELSE percentile_cont(0.95) WITHIN GROUP (ORDER BY a.mean) END AS p95,
           CASE WHEN count(a.case_id) = 0 THEN max(a.n_values) ELSE count(a.mean) END
               AS n_values,
           max(a.scorer) AS scorer,
           max(a.scorer_version) AS scorer_version,
           max(a.scored_at) AS scored_at
    FROM agg a
    GROUP BY a.run_id, a.metric
)
SELECT a.run_id, a.metric, a.n, a.n_passed,
       CASE WHEN a.by_case THEN a.case_pass_rate
            ELSE a.n_passed::double precision / nullif(a.n_judged, 0) END AS pass_rate,
       -- (greatest and least ignore NULLs: a test case alone has no interval)
       CASE WHEN NOT a.by_case THEN w.low
            WHEN tp.half IS NOT NULL THEN greatest(0, a.case_pass_rate - tp.half) END
           AS pass_rate_low,
       CASE WHEN NOT a.by_case THEN w.high
            WHEN tp.half IS NOT NULL THEN least(1, a.case_pass_rate + tp.half) END
           AS pass_rate_high,
       a.mean, a.stddev, a.min, a.max, a.p50, a.p95,
       a.mean - t.half AS mean_low, a.mean + t.half AS mean_high,
       a.scorer, a.scorer_version, a.scored_at,
       a.n_cases,
       a.n_judged
FROM stat a
LEFT JOIN LATERAL evaltool.wilson_interval(a.n_passed, a.n_judged) AS w ON true
-- The CASE, not a WHERE, guards the t quantile: the planner may evaluate a lateral
-- subquery's output before its filter, and one value has no t interval.
LEFT JOIN LATERAL (
    SELECT CASE WHEN a.n_values > 1
                THEN evaltool.t_quantile(0.975, a.n_values - 1) * a.stddev / sqrt(a.n_values) END
) AS t(half) ON true
LEFT JOIN LATERAL (
    SELECT CASE WHEN a.by_case AND a.judged_cases > 1
                THEN evaltool.t_quantile(0.975, a.judged_cases - 1) * a.case_pass_sd
                     / sqrt(a.judged_cases) END
) AS tp(half) ON true;

COMMENT ON VIEW evaltool.run_metric_summary IS
    'Per run and metric, computed live from the scores: n, pass rate with its 95% interval, mean with its 95% t interval, stddev, min, max, median and 95th percentile of the values. For a run with repeats (K > 1) the test case is the unit: pass rate, mean, their t intervals, stddev, p50 and p95 are over the test cases'' pass rates and mean values.';
COMMENT ON COLUMN evaltool.run_metric_summary.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.run_metric_summary.metric IS 'Metric name (e.g. exact_match or exact_match:case).';
COMMENT ON COLUMN evaltool.run_metric_summary.n IS 'Scores of this metric in the run (with repeats: over all samples).';
COMMENT ON COLUMN evaltool.run_metric_summary.n_passed IS 'Scores that passed (with repeats: over all samples).';
COMMENT ON COLUMN evaltool.run_metric_summary.pass_rate IS 'Passed / scores with a pass/fail verdict; with repeats (K > 1), the mean over test cases of each one''s pass rate. NULL for metrics without a verdict.';
COMMENT ON COLUMN evaltool.run_metric_summary.pass_rate_low IS 'Lower end of the 95% interval of the pass rate: Wilson''s; with repeats (K > 1), a t interval over the test cases'' pass rates (df = test cases - 1), clipped to 0..1.';
COMMENT ON COLUMN evaltool.run_metric_summary.pass_rate_high IS 'Upper end of the 95% interval of the pass rate (Wilson''s; with repeats, the t interval over test cases, clipped to 0..1).';
COMMENT ON COLUMN evaltool.run_metric_summary.mean IS 'Mean value; with repeats (K > 1), the mean of the test cases'' mean values.';
COMMENT ON COLUMN evaltool.run_metric_summary.stddev IS 'Sample standard deviation of the values; with repeats (K > 1), of the test cases'' mean values.';
COMMENT ON COLUMN evaltool.run_metric_summary.min IS 'Smallest value (of any sample).';
COMMENT ON COLUMN evaltool.run_metric_summary.max IS 'Largest value (of any sample).';
COMMENT ON COLUMN evaltool.run_metric_summary.p50 IS 'Median value (interpolated); with repeats (K > 1), of the test cases'' mean values.';
COMMENT ON COLUMN evaltool.run_metric_summary.p95 IS '95th percentile of the values (interpolated); with repeats (K > 1), of the test cases'' mean values.';
COMMENT ON COLUMN evaltool.run_metric_summary.mean_low IS 'Lower end of the 95% t interval of the mean (with repeats: over the test cases'' means, df = test cases - 1).';
COMMENT ON COLUMN evaltool.run_metric_summary.mean_high IS 'Upper end of the 95% t interval of the mean.';
COMMENT ON COLUMN evaltool.run_metric_summary.scorer IS 'Scorer that wrote the scores (the latest name where several did).';
COMMENT ON COLUMN evaltool.run_metric_summary.scorer_version IS 'Scorer version (the highest where several).';
COMMENT ON COLUMN evaltool.run_metric_summary.scored_at IS 'When the last of these scores was written.';
COMMENT ON COLUMN evaltool.run_metric_summary.n_cases IS 'Test cases with a score of this metric (equal to n for a run without repeats).';
COMMENT ON COLUMN evaltool.run_metric_summary.n_judged IS 'Scores with a pass/fail verdict (with repeats: over all samples); n_passed / n_judged summed over metrics is the run''s pass rate over all its verdicts.';
