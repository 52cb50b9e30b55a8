-- Built-in SQL scorers and their helpers.
-- Every scorer has the same signature, so evaltool.score_run can apply any of them in one
-- INSERT ... SELECT over a run:
--   scorer_NAME(ok, output, output_text, expected, latency_ms, cost_usd, arg)
--     RETURNS TABLE (value, passed, details)
-- It returns no row where it cannot judge (no expected answer), one row otherwise. Error
-- responses (ok = false) fail; the similarity scorers give them no value (an error is
-- not a score of 0). value is always "higher is better". Scorers written as one
-- SELECT in LANGUAGE sql are inlined by the planner into the INSERT that calls them.

CREATE OR REPLACE FUNCTION evaltool.json_text(j jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE jsonb_typeof(j) WHEN 'string' THEN j #>> '{}' ELSE j::text END $$;
COMMENT ON FUNCTION evaltool.json_text(jsonb) IS
    'The text of a JSON value: a string without its quotes, anything else as JSON text.';

CREATE OR REPLACE FUNCTION evaltool.expected_texts(expected jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT CASE jsonb_typeof(expected)
           WHEN 'array' THEN ARRAY(SELECT evaltool.json_text(e)
                                   FROM jsonb_array_elements(expected) e)
           WHEN 'null' THEN NULL
           ELSE ARRAY[evaltool.json_text(expected)]
       END
$$;
COMMENT ON FUNCTION evaltool.expected_texts(jsonb) IS
    'Acceptable answers as text: each element of a JSON array (any of them is right), else the one value; NULL for none.';

CREATE OR REPLACE FUNCTION evaltool.normalize_text(t text, options text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT CASE WHEN options IS NULL OR options = '' THEN t  -- folded away when inlined
            WHEN options ~ '(^|,)(whitespace|all)(,|$)'
            THEN btrim(regexp_replace(
                     CASE WHEN options ~ '(^|,)(punctuation|all)(,|$)'
                          THEN regexp_replace(
                                   CASE WHEN options ~ '(^|,)(case|all)(,|$)' THEN lower(t) ELSE t END,
                                   '[[:punct:]]', '', 'g')
                          ELSE CASE WHEN options ~ '(^|,)(case|all)(,|$)' THEN lower(t) ELSE t END
                     END, '\s+', ' ', 'g'))
            ELSE CASE WHEN options ~ '(^|,)(punctuation|all)(,|$)'
                      THEN regexp_replace(
                               CASE WHEN options ~ '(^|,)(case|all)(,|$)' THEN lower(t) ELSE t END,
                               '[[:punct:]]', '', 'g')
                      ELSE CASE WHEN options ~ '(^|,)(case|all)(,|$)' THEN lower(t) ELSE t END
                 END
       END
$$;
COMMENT ON FUNCTION evaltool.normalize_text(text, text) IS
    'Text normalised by comma-separated options: case (lower-case), punctuation (removed), whitespace (runs collapsed to one space, ends trimmed), all. NULL or empty options: unchanged.';

CREATE OR REPLACE FUNCTION evaltool.try_jsonb(t text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
    RETURN t::jsonb;
EXCEPTION WHEN invalid_text_representation OR untranslatable_character
               OR program_limit_exceeded OR numeric_value_out_of_range THEN
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION evaltool.try_jsonb(text) IS
    'The text parsed as JSON, or NULL where it is not valid JSON (PostgreSQL 14 and 15 have no IS JSON).';

CREATE OR REPLACE FUNCTION evaltool.last_number(t text) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m[1]::numeric
FROM regexp_matches(regexp_replace(t, '(?<=[0-9]),(?=[0-9]{3}([^0-9]|$))', '', 'g'),
                    '[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?', 'g')
     WITH ORDINALITY AS x(m, i)
ORDER BY i DESC
LIMIT 1
$$;
COMMENT ON FUNCTION evaltool.last_number(text) IS
    'The last number written in the text ("so the answer is 1,024." gives 1024), NULL if none: models state their final answer last.';

CREATE OR REPLACE FUNCTION evaltool.edit_distance(a text, b text) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    la integer := length(a);
    lb integer := length(b);
    prev integer[];
    cur integer[];
    i integer;
    j integer;
    ca text;
BEGIN
    IF la <= 255 AND lb <= 255 THEN
        BEGIN
            RETURN public.levenshtein(a, b);
        EXCEPTION WHEN undefined_function THEN
            NULL;  -- no fuzzystrmatch: fall through to the plain algorithm
        END;
    END IF;
    IF la = 0 OR lb = 0 THEN
        RETURN greatest(la, lb);
    END IF;
    prev := ARRAY(SELECT generate_series(0, lb));
    FOR i IN 1 .. la LOOP
        ca := substr(a, i, 1);
        cur := ARRAY[i];
        FOR j IN 1 .. lb LOOP
            cur[j + 1] := least(prev[j + 1] + 1, cur[j] + 1,
                                prev[j] + CASE WHEN ca = substr(b, j, 1) THEN 0 ELSE 1 END);
        END LOOP;
        prev := cur;
    END LOOP;
    RETURN prev[lb + 1];
END
$$;
COMMENT ON FUNCTION evaltool.edit_distance(text, text) IS
    'Levenshtein distance in characters: fuzzystrmatch''s levenshtein up to its 255-character limit, a plain O(n*m) algorithm beyond it or without the extension.';

CREATE OR REPLACE FUNCTION evaltool.trigram_similarity(a text, b text) RETURNS real
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
BEGIN
    RETURN public.similarity(a, b);
END
$$;
COMMENT ON FUNCTION evaltool.trigram_similarity(text, text) IS
    'pg_trgm similarity of two texts, 0 to 1 (a wrapper, so that this file loads on servers without pg_trgm).';

-- The scorers.

CREATE OR REPLACE FUNCTION evaltool.scorer_exact_match(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, '{}'::jsonb
FROM (SELECT coalesce(ok AND CASE jsonb_typeof(expected)
          -- the common case first: one expected string
          WHEN 'string' THEN evaltool.normalize_text(output_text, arg)
                             = evaltool.normalize_text(expected #>> '{}', arg)
          WHEN 'array' THEN evaltool.normalize_text(output_text, arg)
                            = ANY (ARRAY(SELECT evaltool.normalize_text(e, arg)
                                         FROM unnest(evaltool.expected_texts(expected)) e))
          ELSE output = expected
               OR evaltool.normalize_text(output_text, arg) = evaltool.normalize_text(expected::text, arg)
          END, false)) AS x(m)
WHERE jsonb_typeof(expected) IS DISTINCT FROM 'null' AND expected IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_contains(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, '{}'::jsonb
FROM (SELECT coalesce(ok AND EXISTS (
          SELECT FROM unnest(evaltool.expected_texts(expected)) e
          WHERE strpos(evaltool.normalize_text(output_text, arg),
                       evaltool.normalize_text(e, arg)) > 0), false)) AS x(m)
WHERE jsonb_typeof(expected) IS DISTINCT FROM 'null' AND expected IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_regex(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, '{}'::jsonb
FROM (SELECT coalesce(ok AND output_text ~ coalesce(arg, evaltool.json_text(expected)),
                      false)) AS x(m)
WHERE arg IS NOT NULL OR jsonb_typeof(expected) = 'string'
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_json_valid(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, '{}'::jsonb
FROM (SELECT coalesce(ok AND (jsonb_typeof(output) IN ('object', 'array')
                              OR evaltool.try_jsonb(output_text) IS NOT NULL), false)) AS x(m)
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_json_field_equals(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, jsonb_build_object('got', got)
FROM (SELECT CASE WHEN ok THEN
                 CASE WHEN jsonb_typeof(output) IN ('object', 'array') THEN output
                      ELSE evaltool.try_jsonb(output_text) END #> path END,
             coalesce(expected #> path, expected)
      FROM (SELECT string_to_array(regexp_replace(arg, '^\$\.?', ''), '.')) AS p(path)
     ) AS x(got, want)
CROSS JOIN LATERAL (SELECT coalesce(got = want, false)) AS y(m)
WHERE expected IS NOT NULL AND jsonb_typeof(expected) <> 'null'
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_numeric_close(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, jsonb_build_object('got', got, 'expected', want)
FROM (SELECT CASE WHEN ok THEN evaltool.last_number(output_text) END,
             CASE WHEN jsonb_typeof(expected) = 'number' THEN (expected #>> '{}')::numeric
                  ELSE evaltool.last_number(evaltool.json_text(expected)) END,
             coalesce(nullif(rtrim(arg, '%'), ''), '1e-6')::numeric,
             coalesce(arg LIKE '%\%', false)
     ) AS x(got, want, tol, relative)
CROSS JOIN LATERAL (SELECT coalesce(abs(got - want) <= CASE WHEN relative THEN tol / 100 * abs(want)
                                                            ELSE tol END, false)) AS y(m)
WHERE want IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_edit_similarity(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT v, CASE WHEN arg IS NOT NULL THEN coalesce(v >= arg::double precision, false) END,
       '{}'::jsonb
FROM (SELECT CASE WHEN ok THEN
                 (SELECT max(1 - evaltool.edit_distance(output_text, e)::double precision
                                 / greatest(length(output_text), length(e), 1))
                  FROM unnest(evaltool.expected_texts(expected)) e)
             END) AS x(s)
-- an error response has no similarity: no value (no score at all without a threshold,
-- which it fails)
CROSS JOIN LATERAL (SELECT CASE WHEN ok THEN coalesce(s, 0) END) AS y(v)
WHERE expected IS NOT NULL AND jsonb_typeof(expected) <> 'null' AND (ok OR arg IS NOT NULL)
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_trigram_similarity(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT v, CASE WHEN arg IS NOT NULL THEN coalesce(v >= arg::double precision, false) END,
       '{}'::jsonb
FROM (SELECT CASE WHEN ok THEN
                 (SELECT max(evaltool.trigram_similarity(output_text, e))
                  FROM unnest(evaltool.expected_texts(expected)) e)
             END) AS x(s)
-- an error response has no similarity: no value (no score at all without a threshold,
-- which it fails)
CROSS JOIN LATERAL (SELECT CASE WHEN ok THEN coalesce(s, 0)::double precision END) AS y(v)
WHERE expected IS NOT NULL AND jsonb_typeof(expected) <> 'null' AND (ok OR arg IS NOT NULL)
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_latency_under(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, jsonb_build_object('latency_ms', latency_ms)
FROM (SELECT coalesce(ok AND latency_ms <= arg::double precision, false)) AS x(m)
$$;

CREATE OR REPLACE FUNCTION evaltool.scorer_cost_under(
    ok boolean, output jsonb, output_text text, expected jsonb,
    latency_ms double precision, cost_usd numeric, arg text)
    RETURNS TABLE (value double precision, passed boolean, details jsonb)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT m::integer::double precision, m, jsonb_build_object('cost_usd', cost_usd)
FROM (SELECT coalesce(ok AND cost_usd <= arg::numeric, false)) AS x(m)
WHERE cost_usd IS NOT NULL OR NOT ok
$$;

COMMENT ON FUNCTION evaltool.scorer_exact_match(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer exact_match[:OPTIONS]: the output equals the expected answer (any element of an expected array; JSON equality for expected objects, numbers and booleans), after normalize_text OPTIONS (case, whitespace, punctuation, all).';
COMMENT ON FUNCTION evaltool.scorer_contains(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer contains[:OPTIONS]: the output contains the expected answer (or any element of an expected array), after normalize_text OPTIONS.';
COMMENT ON FUNCTION evaltool.scorer_regex(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer regex[:PATTERN]: the output matches the POSIX regular expression PATTERN, or the expected string taken as a pattern.';
COMMENT ON FUNCTION evaltool.scorer_json_valid(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer json_valid: the output is JSON (a structured output, or text that parses as JSON). Needs no expected answer.';
COMMENT ON FUNCTION evaltool.scorer_json_field_equals(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer json_field_equals:PATH: the value at PATH (dot-separated keys and array indexes, e.g. answer.items.0) of the output''s JSON equals the expected value at PATH, or the whole expected value where it has no PATH.';
COMMENT ON FUNCTION evaltool.scorer_numeric_close(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer numeric_close[:TOLERANCE]: the last number in the output is within TOLERANCE of the expected number (absolute, or relative with a % suffix; default 1e-6).';
COMMENT ON FUNCTION evaltool.scorer_edit_similarity(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer edit_similarity[:THRESHOLD]: 1 - Levenshtein distance / length of the longer text, best over the expected answers; passed when at least THRESHOLD, if given.';
COMMENT ON FUNCTION evaltool.scorer_trigram_similarity(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer trigram_similarity[:THRESHOLD]: pg_trgm similarity between output and expected answer, best over the expected answers; passed when at least THRESHOLD, if given.';
COMMENT ON FUNCTION evaltool.scorer_latency_under(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer latency_under:MS: the call succeeded within MS milliseconds.';
COMMENT ON FUNCTION evaltool.scorer_cost_under(boolean, jsonb, text, jsonb, double precision, numeric, text) IS
    'Scorer cost_under:USD: the call succeeded at a cost of at most USD dollars (responses without a known cost are not scored).';
