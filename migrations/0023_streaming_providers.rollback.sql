-- Undo 0023_streaming_providers (refused while an azure model is registered).
ALTER TABLE evaltool.response DROP COLUMN first_token_ms;

ALTER TABLE evaltool.model DROP CONSTRAINT model_adapter_check;
ALTER TABLE evaltool.model ADD CONSTRAINT model_adapter_check
    CHECK (adapter IN ('openai', 'anthropic', 'bedrock', 'python', 'command', 'imported'));

COMMENT ON COLUMN evaltool.model.adapter IS 'How evaltool calls the model: openai, anthropic, bedrock, python or command; imported for a model known only from another tool''s results (evaltool import), which evaltool cannot call.';
