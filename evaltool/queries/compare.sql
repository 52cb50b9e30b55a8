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
