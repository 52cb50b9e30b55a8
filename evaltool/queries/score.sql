-- score_sql --
-- Applies one built-in SQL scorer to every response of a run (see sql/62_fn_score_run.sql).
SELECT evaltool.score_run(%(run_id)s, %(scorer)s, %(arg)s)
