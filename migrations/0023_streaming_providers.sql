-- 0023_streaming_providers: Azure OpenAI, and the time to first token of streamed calls.
-- Azure OpenAI serves OpenAI's chat completions from the deployments of a resource, with
-- its own URLs, api-version and api-key header: the adapter azure. A model set to stream
-- (evaltool models add --stream) gets its answer as server-sent events, and the worker
-- records when its first token arrived: the latency a person waiting on a chat feels, which
-- users compare as much as the whole call's.
-- depends: 0022_budgets

ALTER TABLE evaltool.model DROP CONSTRAINT model_adapter_check;
ALTER TABLE evaltool.model ADD CONSTRAINT model_adapter_check
    CHECK (adapter IN ('openai', 'azure', 'anthropic', 'bedrock', 'python', 'command',
                       'imported'));

ALTER TABLE evaltool.response ADD COLUMN first_token_ms double precision
    CONSTRAINT response_first_token_ms_check
    CHECK (first_token_ms >= 0 AND first_token_ms < 'Infinity' AND first_token_ms <= latency_ms);

COMMENT ON COLUMN evaltool.model.adapter IS 'How evaltool calls the model: openai, azure (Azure OpenAI), anthropic, bedrock, python or command; imported for a model known only from another tool''s results (evaltool import), which evaltool cannot call.';
COMMENT ON COLUMN evaltool.response.first_token_ms IS 'Milliseconds from the request to the first streamed token of the answer (text, reasoning or a tool call; its end for an empty answer), at most latency_ms; NULL when the call was not streamed (the model''s config key stream) or the response is an error.';
