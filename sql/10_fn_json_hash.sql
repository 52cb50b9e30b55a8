-- evaltool.json_hash: the SHA-256 that deduplicates test cases.
-- jsonb already is a canonical form: keys are sorted and unique, whitespace is normalised,
-- so {"b":1, "a":2} and {"a": 2,"b": 1} hash alike. Numbers keep their written scale
-- (1.0 and 1 differ), as jsonb keeps it.
CREATE OR REPLACE FUNCTION evaltool.json_hash(doc jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN sha256(convert_to(doc::text, 'UTF8'));

COMMENT ON FUNCTION evaltool.json_hash(jsonb) IS
    'SHA-256 of the canonical text of a JSON value: key order and insignificant whitespace do not change it. Used for prompt.prompt_hash.';
