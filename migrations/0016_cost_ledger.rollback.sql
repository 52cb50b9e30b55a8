-- Undo 0016_cost_ledger. cost_daily goes with the ledger (sql/52 defines it over the
-- ledger alone): the evaltool that this database is rolled back for defines it again, over
-- the responses, when it applies its sql/ files.
DROP VIEW IF EXISTS evaltool.cost_daily;
DROP TRIGGER IF EXISTS cost_ledger_insert ON evaltool.response;
DROP TRIGGER IF EXISTS cost_ledger_update ON evaltool.response;
DROP TRIGGER IF EXISTS cost_ledger_delete ON evaltool.response;
DROP FUNCTION IF EXISTS evaltool.cost_ledger_append();
DROP FUNCTION IF EXISTS evaltool.fold_cost_ledger();
DROP TABLE evaltool.cost_ledger;
