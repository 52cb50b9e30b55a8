-- Undo 0021_response_cost_given.
ALTER TABLE evaltool.response DROP COLUMN cost_given;
