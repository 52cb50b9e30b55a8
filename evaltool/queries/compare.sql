-- compare_candidates --
-- Verdict rows of each candidate run against a baseline, adjusted over all of them together
-- (sql/72_fn_compare_runs.sql); with one candidate, the rows of compare_runs.
SELECT *
FROM evaltool.compare_candidates(%(baseline)s, %(candidates)s::bigint[], %(alpha)s, %(missing)s,
                                 %(correction)s, %(margins)s, %(by)s, %(cluster)s, %(metrics)s)

-- compare_metrics --
-- The metrics scored in any of the runs.
SELECT DISTINCT s.metric
FROM evaltool.score s
WHERE s.run_id = ANY (%(runs)s::bigint[])  -- on score itself: prunes its partitions
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
-- Recorded comparisons that RUN took part in and that judged METRIC; family: the candidates
-- it was adjusted with (compare of several candidates) that still exist, else empty.
SELECT c.id, c.baseline_run_id, c.candidate_run_id, c.policy, c.created_at,
       (SELECT e ->> 'verdict' FROM jsonb_array_elements(c.results) e
        WHERE e ->> 'metric' = %(metric)s AND e ->> 'slice' IS NULL) AS verdict,
       ARRAY(SELECT r.id
             FROM jsonb_array_elements_text(coalesce(c.policy -> 'candidates', '[]'))
                  WITH ORDINALITY AS f(run_id, i)
             JOIN evaltool.run r ON r.id = f.run_id::bigint
             ORDER BY f.i) AS family
FROM evaltool.comparison c
WHERE %(run_id)s IN (c.baseline_run_id, c.candidate_run_id)
  AND EXISTS (SELECT FROM jsonb_array_elements(c.results) e WHERE e ->> 'metric' = %(metric)s)
ORDER BY c.id

-- version_swap_out --
-- The first half of making a run's scores of METRIC those that VERSION gave, only inside a
-- transaction that is rolled back: the current scores move to score_history (trigger).
DELETE FROM evaltool.score s
WHERE s.run_id = %(run_id)s AND s.metric = %(metric)s

-- version_swap_in --
-- The second half: VERSION's scores (evaltool.scores_at_version) come back from history.
INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, details, scorer,
                            scorer_version, scoring_id)
SELECT h.run_id, h.response_id, h.metric, h.value, h.passed, h.details, h.scorer,
       h.scorer_version, h.scoring_id
FROM evaltool.scores_at_version(%(run_id)s, %(metric)s, %(version)s) v
JOIN evaltool.score_history h ON h.run_id = %(run_id)s AND h.id = v.score_key

-- version_scored --
-- Whether VERSION (a scorer version, a judge model, or a scoring id) scored METRIC on the run.
SELECT EXISTS (SELECT FROM evaltool.scores_at_version(%(run_id)s, %(metric)s, %(version)s))

-- compare_outputs --
-- The test cases where the runs (baseline first, then the candidates) answered differently,
-- each run's first sample: its output differs from the baseline's, or a pass/fail score of
-- METRICS does (a run without that score counts as failed). The %(limit)s with the most
-- disagreement first: pass/fail verdicts that differ from the baseline's (flips), then
-- outputs that do; total counts them all. passed: {metric: [pass/fail per run]} for the
-- metrics whose verdicts differ.
WITH runs AS (
    SELECT u.run_id, u.i FROM unnest(%(runs)s::bigint[]) WITH ORDINALITY AS u(run_id, i)
), first AS (
    SELECT DISTINCT ON (r.run_id, r.prompt_id) r.run_id, r.prompt_id, r.id,
           coalesce(r.output_text, 'error: ' || r.error) AS output
    FROM evaltool.response r
    WHERE r.run_id = ANY (%(runs)s::bigint[])
    ORDER BY r.run_id, r.prompt_id, r.sample
), grid AS (
    SELECT c.prompt_id, x.i, x.run_id, f.id AS response_id, f.output
    FROM (SELECT DISTINCT f.prompt_id FROM first f) c
    CROSS JOIN runs x
    LEFT JOIN first f ON f.prompt_id = c.prompt_id AND f.run_id = x.run_id
), verdicts AS (
    SELECT g.prompt_id, m.metric, g.i, coalesce(s.passed, false) AS passed
    FROM (SELECT DISTINCT g.prompt_id, s.metric
          FROM grid g
          JOIN evaltool.score s ON s.run_id = g.run_id AND s.response_id = g.response_id
          WHERE s.run_id = ANY (%(runs)s::bigint[])  -- prunes score to the runs' partitions
            AND s.passed IS NOT NULL AND s.metric = ANY (%(metrics)s::text[])) m
    JOIN grid g ON g.prompt_id = m.prompt_id
    LEFT JOIN evaltool.score s
           ON s.run_id = g.run_id AND s.response_id = g.response_id AND s.metric = m.metric
          AND s.run_id = ANY (%(runs)s::bigint[])
), flips AS (
    SELECT v.prompt_id, v.metric, count(*) FILTER (WHERE v.passed <> b.passed) AS changed,
           jsonb_agg(v.passed ORDER BY v.i) AS passed
    FROM verdicts v
    JOIN verdicts b ON b.prompt_id = v.prompt_id AND b.metric = v.metric AND b.i = 1
    GROUP BY v.prompt_id, v.metric
), cases AS (
    SELECT g.prompt_id, array_agg(g.output ORDER BY g.i) AS outputs,
           count(*) FILTER (WHERE g.output IS DISTINCT FROM b.output) AS outputs_changed
    FROM grid g JOIN grid b ON b.prompt_id = g.prompt_id AND b.i = 1
    GROUP BY g.prompt_id
), per_case AS (
    SELECT f.prompt_id, sum(f.changed)::bigint AS flips,
           jsonb_object_agg(f.metric, f.passed) FILTER (WHERE f.changed > 0) AS passed
    FROM flips f
    GROUP BY f.prompt_id
)
SELECT p.id AS prompt_id, p.external_id, p.input, p.expected, c.outputs, c.outputs_changed,
       coalesce(f.flips, 0) AS flips, coalesce(f.passed, '{}') AS passed,
       count(*) OVER () AS total
FROM cases c
JOIN evaltool.prompt p ON p.id = c.prompt_id
LEFT JOIN per_case f ON f.prompt_id = c.prompt_id
WHERE c.outputs_changed > 0 OR f.flips > 0
ORDER BY coalesce(f.flips, 0) DESC, c.outputs_changed DESC, p.id
LIMIT %(limit)s
