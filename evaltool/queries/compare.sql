-- compare_runs --
-- Verdict rows of a candidate run against a baseline (sql/72_fn_compare_runs.sql).
SELECT *
FROM evaltool.compare_runs(%(baseline)s, %(candidate)s, %(alpha)s, %(missing)s, %(correction)s,
                           %(margins)s, %(by)s, %(cluster)s, %(metrics)s)

-- compare_metrics --
-- The metrics scored in either run.
SELECT DISTINCT s.metric
FROM evaltool.response r JOIN evaltool.score s ON s.response_id = r.id
WHERE r.run_id IN (%(baseline)s, %(candidate)s)
ORDER BY s.metric

-- compare_regressions --
-- The worst %(limit)s regressed test cases of each metric, and how many there are in all.
SELECT *
FROM (SELECT g.*, row_number() OVER (PARTITION BY g.metric) AS nth,
             count(*) OVER (PARTITION BY g.metric) AS total
      FROM evaltool.regressions(%(baseline)s, %(candidate)s) g) x
WHERE x.nth <= %(limit)s AND x.metric = ANY(%(metrics)s)
ORDER BY x.metric, x.nth

-- comparison_record --
-- A comparison as evaltool compare --record keeps it, with the scorings current in both
-- runs (the latest of each metric), so a later judge can be asked whether it would differ.
INSERT INTO evaltool.comparison (baseline_run_id, candidate_run_id, policy, scorings, results,
                                 gate_passed, created_by)
SELECT %(baseline)s, %(candidate)s, %(policy)s,
       coalesce((SELECT array_agg(x.id ORDER BY x.id)
                 FROM (SELECT DISTINCT ON (g.run_id, g.metric) g.id
                       FROM evaltool.scoring g
                       WHERE g.run_id IN (%(baseline)s, %(candidate)s)
                       ORDER BY g.run_id, g.metric, g.id DESC) x), '{}'),
       %(results)s, %(gate_passed)s,
       coalesce(nullif(current_setting('evaltool.actor', true), ''), current_user)
RETURNING id

-- comparisons_of_run --
-- Recorded comparisons that RUN took part in and that judged METRIC.
SELECT c.id, c.baseline_run_id, c.candidate_run_id, c.policy, c.created_at,
       (SELECT e ->> 'verdict' FROM jsonb_array_elements(c.results) e
        WHERE e ->> 'metric' = %(metric)s AND e ->> 'slice' IS NULL) AS verdict
FROM evaltool.comparison c
WHERE %(run_id)s IN (c.baseline_run_id, c.candidate_run_id)
  AND EXISTS (SELECT FROM jsonb_array_elements(c.results) e WHERE e ->> 'metric' = %(metric)s)
ORDER BY c.id

-- version_swap_out --
-- The first half of making a run's scores of METRIC those that VERSION gave, only inside a
-- transaction that is rolled back: the current scores move to score_history (trigger).
DELETE FROM evaltool.score s
USING evaltool.response r
WHERE r.id = s.response_id AND r.run_id = %(run_id)s AND s.metric = %(metric)s

-- version_swap_in --
-- The second half: VERSION's scores (evaltool.scores_at_version) come back from history.
INSERT INTO evaltool.score (response_id, metric, value, passed, details, scorer, scorer_version,
                            scoring_id)
SELECT h.response_id, h.metric, h.value, h.passed, h.details, h.scorer, h.scorer_version,
       h.scoring_id
FROM evaltool.scores_at_version(%(run_id)s, %(metric)s, %(version)s) v
JOIN evaltool.score_history h ON h.id = v.score_key

-- version_scored --
-- Whether VERSION (a scorer version, a judge model, or a scoring id) scored METRIC on the run.
SELECT EXISTS (SELECT FROM evaltool.scores_at_version(%(run_id)s, %(metric)s, %(version)s))
