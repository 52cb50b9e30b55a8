-- Undo 0022_budgets (runs stopped by a budget read as interrupted again).
UPDATE evaltool.run SET status = 'interrupted' WHERE status = 'budget_exceeded';
ALTER TABLE evaltool.run DROP CONSTRAINT run_status_check;
ALTER TABLE evaltool.run ADD CONSTRAINT run_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'interrupted'));
ALTER TABLE evaltool.run DROP COLUMN max_cost_usd;
ALTER TABLE evaltool.project DROP COLUMN monthly_budget_usd;
COMMENT ON COLUMN evaltool.run.status IS 'pending, running, completed, failed or interrupted (resumable).';
