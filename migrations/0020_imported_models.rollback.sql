-- Undo 0020_imported_models (refused while an imported model is registered).
ALTER TABLE evaltool.model DROP CONSTRAINT model_adapter_check;
ALTER TABLE evaltool.model ADD CONSTRAINT model_adapter_check
    CHECK (adapter IN ('openai', 'anthropic', 'bedrock', 'python', 'command'));

COMMENT ON COLUMN evaltool.model.adapter IS 'How evaltool calls the model: openai, anthropic, bedrock, python or command.';
