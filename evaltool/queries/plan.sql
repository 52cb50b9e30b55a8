-- plan_sample_size --
-- Test cases needed per metric of a baseline run to detect a drop of %(detect)s
-- (sql/73_fn_plan_sample_size.sql).
SELECT *
FROM evaltool.plan_sample_size(%(baseline)s, %(detect)s, %(alpha)s, %(power)s, %(like)s)
