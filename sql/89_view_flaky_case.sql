-- requires: 0009_repeats
-- requires: 0013_partition_by_run
-- Flaky test cases: those whose verdicts on a pass/fail metric disagree, within one run
-- (its samples, evaltool run --repeats K) or across runs of one unchanged configuration.

-- evaltool.flaky_case: within one run, from case_metric (a filter on run_id stays cheap).
CREATE OR REPLACE VIEW evaltool.flaky_case AS
SELECT c.run_id, c.prompt_id, p.external_id, c.metric, c.samples, c.n_passed,
       c.n_judged - c.n_passed AS n_failed,
       c.pass_rate AS pass_share
FROM evaltool.case_metric c
JOIN evaltool.prompt p ON p.id = c.prompt_id
WHERE c.n_passed > 0 AND c.n_passed < c.n_judged;

COMMENT ON VIEW evaltool.flaky_case IS
    'Test cases whose samples within one run disagree on a pass/fail metric: some passed, some failed (run.repeats > 1). The flakiest have a pass share near 0.5.';
COMMENT ON COLUMN evaltool.flaky_case.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.flaky_case.prompt_id IS 'The test case.';
COMMENT ON COLUMN evaltool.flaky_case.external_id IS 'The test case''s id in its source file, if it has one.';
COMMENT ON COLUMN evaltool.flaky_case.metric IS 'Metric name (a pass/fail metric).';
COMMENT ON COLUMN evaltool.flaky_case.samples IS 'Samples of the test case with a score of this metric.';
COMMENT ON COLUMN evaltool.flaky_case.n_passed IS 'Samples that passed.';
COMMENT ON COLUMN evaltool.flaky_case.n_failed IS 'Samples that failed.';
COMMENT ON COLUMN evaltool.flaky_case.pass_share IS 'n_passed / (n_passed + n_failed), strictly between 0 and 1.';

-- evaltool.flaky_case_history: across completed runs of one model over one dataset (one
-- version) with an unchanged configuration: the same run.params and model snapshot, less
-- the price (which changes what a run costs, not what it answers) and the model row's
-- updated_at. Each run gives a test case one verdict per metric: passed when most of its
-- judged samples passed, failed when most failed (with K = 1: its one verdict); a tie
-- (1 of 2) is neither. The scores are aggregated here rather than read from case_metric,
-- so that a filter on model_id or dataset_id reaches the runs before their scores.
CREATE OR REPLACE VIEW evaltool.flaky_case_history AS
WITH run_config AS (
    -- One md5 per run: the GROUP BY keeps this subquery, and so its md5, out of the
    -- per-score query below, while a filter on model_id or dataset_id still reaches it.
    SELECT ru.id AS run_id, ru.model_id, ru.dataset_id,
           md5(jsonb_build_array(ru.params, ru.model_snapshot - 'pricing' - 'updated_at')::text)
               AS config
    FROM evaltool.run ru
    WHERE ru.status = 'completed'
    GROUP BY ru.id
), outcome AS (
    SELECT c.model_id, c.dataset_id, c.config, c.run_id, r.prompt_id, s.metric,
           count(*) FILTER (WHERE s.passed) AS n_passed,
           count(*) AS n_judged
    FROM run_config c
    JOIN evaltool.response r ON r.run_id = c.run_id
    JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
    WHERE s.passed IS NOT NULL
    GROUP BY c.model_id, c.dataset_id, c.config, c.run_id, r.prompt_id, s.metric
), flips AS (
    SELECT o.model_id, o.dataset_id, o.config, o.prompt_id, o.metric,
           count(*) AS runs,
           count(*) FILTER (WHERE o.n_passed * 2 > o.n_judged) AS runs_passed,
           count(*) FILTER (WHERE o.n_passed * 2 < o.n_judged) AS runs_failed,
           min(o.run_id) AS first_run_id,
           max(o.run_id) AS last_run_id
    FROM outcome o
    GROUP BY o.model_id, o.dataset_id, o.config, o.prompt_id, o.metric
    HAVING count(*) >= 2
       AND count(*) FILTER (WHERE o.n_passed * 2 > o.n_judged) > 0
       AND count(*) FILTER (WHERE o.n_passed * 2 < o.n_judged) > 0
)
SELECT f.model_id, m.name AS model, f.dataset_id, d.name AS dataset,
       d.version AS dataset_version, f.config, f.prompt_id, p.external_id, f.metric,
       f.runs, f.runs_passed, f.runs_failed, f.first_run_id, f.last_run_id
FROM flips f
JOIN evaltool.model m ON m.id = f.model_id
JOIN evaltool.dataset d ON d.id = f.dataset_id
JOIN evaltool.prompt p ON p.id = f.prompt_id;

COMMENT ON VIEW evaltool.flaky_case_history IS
    'Test cases that passed in some completed runs and failed in others, among runs of one model over one dataset with an unchanged configuration (run.params and model_snapshot less pricing and updated_at). A run''s verdict on a test case is the majority of its samples'' verdicts; a tie is neither.';
COMMENT ON COLUMN evaltool.flaky_case_history.model_id IS 'The model (registry id).';
COMMENT ON COLUMN evaltool.flaky_case_history.model IS 'Registry name of the model.';
COMMENT ON COLUMN evaltool.flaky_case_history.dataset_id IS 'The dataset (one version).';
COMMENT ON COLUMN evaltool.flaky_case_history.dataset IS 'Dataset name.';
COMMENT ON COLUMN evaltool.flaky_case_history.dataset_version IS 'Dataset version.';
COMMENT ON COLUMN evaltool.flaky_case_history.config IS 'md5 of the runs'' configuration: run.params and model_snapshot less its pricing and updated_at keys.';
COMMENT ON COLUMN evaltool.flaky_case_history.prompt_id IS 'The test case.';
COMMENT ON COLUMN evaltool.flaky_case_history.external_id IS 'The test case''s id in its source file, if it has one.';
COMMENT ON COLUMN evaltool.flaky_case_history.metric IS 'Metric name (a pass/fail metric).';
COMMENT ON COLUMN evaltool.flaky_case_history.runs IS 'Completed runs of this configuration with a verdict on the test case (at least 2).';
COMMENT ON COLUMN evaltool.flaky_case_history.runs_passed IS 'Runs where most of its judged samples passed (with one sample per run: where it passed).';
COMMENT ON COLUMN evaltool.flaky_case_history.runs_failed IS 'Runs where most of its judged samples failed. Runs with a tie count in neither.';
COMMENT ON COLUMN evaltool.flaky_case_history.first_run_id IS 'The lowest run id among those runs.';
COMMENT ON COLUMN evaltool.flaky_case_history.last_run_id IS 'The highest run id among those runs.';
