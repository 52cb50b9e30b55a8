-- Undo 0001_core: drop the core tables, children first.
-- The schema itself stays: yoyo keeps its bookkeeping there. btree_gist stays too, since
-- other schemas of the database may use it.
DROP TABLE evaltool.audit_log;
DROP TABLE evaltool.score;
DROP TABLE evaltool.response;
DROP TABLE evaltool.run;
DROP TABLE evaltool.prompt;
DROP TABLE evaltool.dataset;
DROP TABLE evaltool.model_params;
DROP TABLE evaltool.model_pricing;
DROP TABLE evaltool.model;
DROP TABLE evaltool.provider;
DROP TABLE evaltool.project;
COMMENT ON SCHEMA evaltool IS NULL;
