-- score_sql --
-- Applies one built-in SQL scorer to every response of a run (see sql/62_fn_score_run.sql).
SELECT evaltool.score_run(%(run_id)s, %(scorer)s, %(arg)s)

-- scorer_names --
-- The built-in SQL scorers.
SELECT name FROM evaltool.scorer ORDER BY name

-- run_metric_summary --
-- Live statistics of the given metrics of a run.
SELECT metric, n, n_passed, pass_rate, pass_rate_low, pass_rate_high, mean, mean_low, mean_high
FROM evaltool.run_metric_summary
WHERE run_id = %(run_id)s AND metric = ANY(%(metrics)s)
ORDER BY metric
