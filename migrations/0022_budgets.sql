-- 0022_budgets: spending limits the queue enforces.
-- A run may be given a most it may cost (evaltool run --max-cost), a project a monthly
-- budget (evaltool projects budget); workers claim no more work once either is spent, and
-- the run stops as budget_exceeded, to be resumed when the limit is raised.
-- depends: 0021_response_cost_given

ALTER TABLE evaltool.project
    ADD COLUMN monthly_budget_usd numeric(14, 2) CHECK (monthly_budget_usd > 0);
ALTER TABLE evaltool.run
    ADD COLUMN max_cost_usd numeric(14, 6) CHECK (max_cost_usd > 0);
ALTER TABLE evaltool.run DROP CONSTRAINT run_status_check;
ALTER TABLE evaltool.run ADD CONSTRAINT run_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'interrupted',
                      'budget_exceeded'));

COMMENT ON COLUMN evaltool.project.monthly_budget_usd IS 'Most the project''s model calls may cost in a calendar month (of the database session''s time zone), in USD; NULL: no limit. Workers claim no more work once it is spent.';
COMMENT ON COLUMN evaltool.run.max_cost_usd IS 'Most this run''s calls may cost, in USD (evaltool run --max-cost); NULL: no limit. Workers claim no more work once it is spent.';
COMMENT ON COLUMN evaltool.run.status IS 'pending, running, completed, failed, interrupted, or budget_exceeded (the run''s --max-cost or its project''s monthly budget was spent; resumable once raised).';
