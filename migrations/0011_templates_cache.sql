-- 0011_templates_cache: prompt templates, a response cache shared by every user of the
-- database, reference-run scoring and suites.
-- A prompt template turns a test case into the request a model is sent; a template
-- version is immutable (sql/26_trg_prompt_template.sql), so a run that names one can be
-- reproduced. The cache key of a response is the SHA-256 of the run's model configuration
-- (run.config_hash), the request and the sample; a later run of the same configuration
-- that would send the same request reuses the response instead of calling the model.
-- depends: 0010_score_history

CREATE TABLE evaltool.prompt_template (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (name <> ''),
    version       integer NOT NULL CHECK (version >= 1),
    body          jsonb NOT NULL CHECK (jsonb_typeof(body) = 'array' AND jsonb_array_length(body) > 0),
    template_hash bytea NOT NULL CHECK (octet_length(template_hash) = 32),
    description   text,
    created_by    text NOT NULL DEFAULT current_user,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT prompt_template_name_version_key UNIQUE (name, version),
    CONSTRAINT prompt_template_name_hash_key UNIQUE (name, template_hash)
);

ALTER TABLE evaltool.run
    ADD COLUMN template_id bigint REFERENCES evaltool.prompt_template (id) ON DELETE RESTRICT,
    ADD COLUMN config_hash bytea CHECK (octet_length(config_hash) = 32),
    ADD COLUMN suite text CHECK (suite <> '');
CREATE INDEX run_template_id_idx ON evaltool.run (template_id) WHERE template_id IS NOT NULL;
CREATE INDEX run_suite_idx ON evaltool.run (suite, created_at) WHERE suite IS NOT NULL;

ALTER TABLE evaltool.response
    ADD COLUMN request     jsonb,
    ADD COLUMN cache_key   bytea CHECK (octet_length(cache_key) = 32),
    ADD COLUMN cached_from bigint REFERENCES evaltool.response (id) ON DELETE SET NULL;
-- Cache lookups: only answers can be reused.
CREATE INDEX response_cache_key_idx ON evaltool.response (cache_key)
    WHERE status = 'ok' AND cache_key IS NOT NULL;
-- Serves ON DELETE SET NULL when a source run is deleted; copies are few.
CREATE INDEX response_cached_from_idx ON evaltool.response (cached_from)
    WHERE cached_from IS NOT NULL;

ALTER TABLE evaltool.scoring
    ADD COLUMN reference_run_id bigint REFERENCES evaltool.run (id) ON DELETE SET NULL;
CREATE INDEX scoring_reference_run_id_idx ON evaltool.scoring (reference_run_id)
    WHERE reference_run_id IS NOT NULL;

COMMENT ON TABLE evaltool.prompt_template IS 'A prompt template: Jinja over a test case''s fields that renders the chat messages a model is sent (evaltool templates add). Each version is immutable; adding a changed body makes the next version.';
COMMENT ON COLUMN evaltool.prompt_template.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.prompt_template.name IS 'Template name, as typed on the command line (--template NAME[:VERSION]).';
COMMENT ON COLUMN evaltool.prompt_template.version IS 'Version number within the name, 1, 2, ...; the highest is the current one.';
COMMENT ON COLUMN evaltool.prompt_template.body IS 'The messages as a JSON array of {"role": "system"|"user"|"assistant", "content": Jinja template}.';
COMMENT ON COLUMN evaltool.prompt_template.template_hash IS 'SHA-256 of the body (json_hash), set by trigger: equal bodies of one name are one version.';
COMMENT ON COLUMN evaltool.prompt_template.description IS 'Free text for people: what changed in this version.';
COMMENT ON COLUMN evaltool.prompt_template.created_by IS 'Who added the version.';
COMMENT ON COLUMN evaltool.prompt_template.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.prompt_template.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON COLUMN evaltool.run.template_id IS 'Prompt template version the run renders each test case with; NULL sends each input as it is.';
COMMENT ON COLUMN evaltool.run.config_hash IS 'SHA-256 of the model configuration the run calls (adapter, model id, version, configuration with the base URL stripped of credentials, parameters): with the request and the sample, the key of the response cache.';
COMMENT ON COLUMN evaltool.run.suite IS 'Name of the suite file evaluation (evaltool eval) that made the run, if any.';
COMMENT ON COLUMN evaltool.response.request IS 'The rendered request (chat messages) when the run has a template; NULL when the test case''s input was sent as it is.';
COMMENT ON COLUMN evaltool.response.cache_key IS 'Response cache key: SHA-256 of run.config_hash, the request and the sample (evaltool.response_cache_key); NULL for loaded responses.';
COMMENT ON COLUMN evaltool.response.cached_from IS 'The response this one was reused from (a cache hit: no call was made, its cost is zero); NULL for a call, or when the source run was deleted.';
COMMENT ON COLUMN evaltool.scoring.reference_run_id IS 'Run whose outputs were the expected answers (evaltool score --reference), instead of the test cases'' expected values.';
