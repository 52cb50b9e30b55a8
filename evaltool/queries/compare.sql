-- compare_runs --
-- Per metric verdicts of a candidate run against a baseline (sql/71_fn_compare_runs.sql).
SELECT * FROM evaltool.compare_runs(%(baseline)s, %(candidate)s, %(alpha)s)

-- compare_regressions --
-- The worst %(limit)s regressed test cases of each metric, and how many there are in all.
SELECT *
FROM (SELECT g.*, row_number() OVER (PARTITION BY g.metric) AS nth,
             count(*) OVER (PARTITION BY g.metric) AS total
      FROM evaltool.regressions(%(baseline)s, %(candidate)s) g) x
WHERE x.nth <= %(limit)s AND x.metric = ANY(%(metrics)s)
ORDER BY x.metric, x.nth
