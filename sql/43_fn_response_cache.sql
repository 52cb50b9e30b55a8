-- requires: 0011_templates_cache
-- The response cache: a run's configuration hash (taken when the run is created, from its
-- model snapshot and parameters) and each request's key. A key is the same for every user
-- of the database, so one team's calls serve the next run of anyone's.
CREATE OR REPLACE FUNCTION evaltool.model_config_hash(snapshot jsonb, params jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN evaltool.json_hash(jsonb_build_object(
        'adapter', snapshot -> 'adapter',
        'model_id', snapshot -> 'model_id',
        'version', snapshot -> 'version',
        -- user:password@ in a base URL is a credential, not configuration
        'config', CASE WHEN snapshot -> 'config' ? 'base_url' THEN
                      jsonb_set(snapshot -> 'config', '{base_url}', to_jsonb(regexp_replace(
                          snapshot -> 'config' ->> 'base_url', '^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@', '\1')))
                  ELSE coalesce(snapshot -> 'config', '{}') END,
        'params', coalesce(params, '{}')));

COMMENT ON FUNCTION evaltool.model_config_hash(jsonb, jsonb) IS
    'SHA-256 of what makes two runs'' calls interchangeable: adapter, model id, version, configuration (base URL without credentials) and parameters. Stored as run.config_hash.';

CREATE OR REPLACE FUNCTION evaltool.response_cache_key(config_hash bytea, request jsonb, sample integer)
RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN sha256(config_hash || int4send(sample) || convert_to(request::text, 'UTF8'));

COMMENT ON FUNCTION evaltool.response_cache_key(bytea, jsonb, integer) IS
    'Response cache key: SHA-256 of the run''s configuration hash, the sample number and the canonical text of the request (the rendered messages, or the test case''s input). The sample is part of it, so repeats still sample.';
