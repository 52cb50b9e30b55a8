-- requires: 0016_cost_ledger
-- evaltool.cost_daily: what model calls cost, per day, project, user and model, summed
-- from cost_ledger (a few rows per run), not from the responses: a month's cost reads the
-- same rows however long the history, and archived runs keep theirs.
CREATE OR REPLACE VIEW evaltool.cost_daily AS
SELECT date_trunc('day', l.period) AS day,
       p.name AS project, r.created_by, m.name AS model,
       sum(l.calls)::bigint AS calls,
       coalesce(sum(l.errors), 0)::bigint AS errors,
       sum(l.input_tokens)::bigint AS input_tokens,
       sum(l.output_tokens)::bigint AS output_tokens,
       sum(l.cost_usd) AS cost_usd,
       coalesce(sum(l.unpriced_calls), 0)::bigint AS unpriced_calls
FROM evaltool.cost_ledger l
JOIN evaltool.run r ON r.id = l.run_id
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
JOIN evaltool.project p ON p.id = d.project_id
GROUP BY 1, 2, 3, 4
HAVING sum(l.calls) <> 0;

COMMENT ON VIEW evaltool.cost_daily IS
    'Calls, tokens and cost per day (days in the session''s time zone), project, user and model, from cost_ledger (archived runs included); sum over it for weeks, months or totals.';
COMMENT ON COLUMN evaltool.cost_daily.day IS 'Day the calls were made.';
COMMENT ON COLUMN evaltool.cost_daily.project IS 'Project of the run''s dataset.';
COMMENT ON COLUMN evaltool.cost_daily.created_by IS 'Who started the run.';
COMMENT ON COLUMN evaltool.cost_daily.model IS 'Registry name of the model.';
COMMENT ON COLUMN evaltool.cost_daily.calls IS 'Responses written (one per test case and run).';
COMMENT ON COLUMN evaltool.cost_daily.errors IS 'Calls that failed.';
COMMENT ON COLUMN evaltool.cost_daily.input_tokens IS 'Input tokens.';
COMMENT ON COLUMN evaltool.cost_daily.output_tokens IS 'Output tokens.';
COMMENT ON COLUMN evaltool.cost_daily.cost_usd IS 'Cost in USD at the prices in force at each call.';
COMMENT ON COLUMN evaltool.cost_daily.unpriced_calls IS 'Calls without a known cost (no price set for the model at the time).';
