-- 0020_imported_models: models known only from other tools' result files.
-- evaltool import registers the model a promptfoo, lm-evaluation-harness, Inspect, OpenAI
-- Batch or Bedrock file names, so that its runs compare with evaluated ones; evaltool has
-- no way to call it, and says so, rather than pretend it has an adapter.
-- depends: 0019_token_counts_bigint

ALTER TABLE evaltool.model DROP CONSTRAINT model_adapter_check;
ALTER TABLE evaltool.model ADD CONSTRAINT model_adapter_check
    CHECK (adapter IN ('openai', 'anthropic', 'bedrock', 'python', 'command', 'imported'));

COMMENT ON COLUMN evaltool.model.adapter IS 'How evaltool calls the model: openai, anthropic, bedrock, python or command; imported for a model known only from another tool''s results (evaltool import), which evaltool cannot call.';
