-- response_rows_create --
-- Staged response lines, each matched to its test case by "id" or else by the hash of
-- "input", with the reason it cannot be loaded (NULL when it can).
CREATE TEMP VIEW evaltool_rows AS
SELECT s.ord, s.doc, coalesce(by_id.id, by_input.id) AS prompt_id,
       CASE
           WHEN jsonb_typeof(s.doc) <> 'object' THEN 'not a JSON object'
           WHEN coalesce(s.doc -> 'id', s.doc -> 'input', 'null') = 'null'
               THEN 'name the test case with "id" or "input"'
           WHEN s.doc ->> 'id' IS NOT NULL AND by_id.id IS NULL
               THEN format('no test case with id %s in the run''s dataset', s.doc -> 'id')
           -- both given: they must name one test case, not leave the choice to evaltool
           WHEN s.doc ->> 'id' IS NOT NULL AND coalesce(s.doc -> 'input', 'null') <> 'null'
                AND by_id.prompt_hash <> evaltool.json_hash(s.doc -> 'input')
               THEN format('"id" %s and "input" name different test cases', s.doc -> 'id')
           WHEN s.doc ->> 'id' IS NULL AND by_input.id IS NULL
               THEN 'no test case with this input in the run''s dataset'
           WHEN jsonb_typeof(s.doc -> 'status') NOT IN ('string', 'null')
                OR s.doc ->> 'status' NOT IN ('ok', 'error')
               THEN '"status" must be ok or error'
           WHEN s.doc ->> 'status' = 'error' AND coalesce(s.doc ->> 'error', '') = ''
               THEN 'an error response needs an "error" message'
           WHEN jsonb_typeof(s.doc -> 'error') NOT IN ('string', 'null')
               THEN '"error" must be a string'
           WHEN jsonb_typeof(s.doc -> 'output_text') NOT IN ('string', 'null')
               THEN '"output_text" must be a string'
           WHEN EXISTS (SELECT FROM unnest(ARRAY['latency_ms', 'input_tokens', 'output_tokens',
                                                 'cost_usd', 'attempts']) k
                        WHERE jsonb_typeof(s.doc -> k) NOT IN ('number', 'null')
                           OR (jsonb_typeof(s.doc -> k) = 'number' AND s.doc -> k < '0'))
               THEN 'latency_ms, input_tokens, output_tokens, cost_usd and attempts must be numbers >= 0'
           WHEN EXISTS (SELECT FROM unnest(ARRAY['input_tokens', 'output_tokens', 'attempts']) k
                        WHERE jsonb_typeof(s.doc -> k) = 'number'
                          AND (s.doc -> k)::numeric % 1 <> 0)
               THEN 'input_tokens, output_tokens and attempts must be whole numbers'
           -- what the columns hold (latency_ms: double precision, finite; cost_usd:
           -- numeric(18, 8); the token counts: bigint; attempts: integer)
           WHEN range.key IS NOT NULL
               THEN format('"%s" is out of range (%s)', range.key, range.allowed)
           WHEN jsonb_typeof(s.doc -> 'tokens_estimated') NOT IN ('boolean', 'null')
               THEN '"tokens_estimated" must be true or false'
           WHEN jsonb_typeof(s.doc -> 'metadata') NOT IN ('object', 'null')
               THEN '"metadata" must be an object'
           WHEN coalesce(s.doc -> 'created_at', 'null') <> 'null'
                AND (jsonb_typeof(s.doc -> 'created_at') <> 'string'
                     OR evaltool.iso_timestamptz(s.doc ->> 'created_at') IS NULL)
               THEN '"created_at" must be a time in ISO 8601, such as 2024-05-01T12:00:00Z'
           WHEN jsonb_typeof(s.doc -> 'sample') NOT IN ('number', 'null')
                OR (jsonb_typeof(s.doc -> 'sample') = 'number'
                    AND ((s.doc -> 'sample')::numeric % 1 <> 0
                         OR (s.doc -> 'sample')::numeric NOT BETWEEN 1 AND 1000))
               THEN '"sample" must be a whole number from 1 to 1000'
       END AS reason
FROM pg_temp.evaltool_stage s
CROSS JOIN pg_temp.evaltool_load_context c
LEFT JOIN LATERAL (
    SELECT m.key, m.allowed
    FROM (VALUES (1, 'latency_ms', numeric '1e-300', numeric '1e300', 'from 1e-300 to 1e300, or 0'),
                 (2, 'input_tokens', 0, 9223372036854775807, 'at most 9223372036854775807'),
                 (3, 'output_tokens', 0, 9223372036854775807, 'at most 9223372036854775807'),
                 (4, 'cost_usd', 0, 9999999999.99999999, 'at most 9999999999.99999999'),
                 (5, 'attempts', 0, 2147483647, 'at most 2147483647'))
         AS m(n, key, low, high, allowed)
    CROSS JOIN LATERAL (SELECT (s.doc -> m.key)::numeric AS x) v
    WHERE jsonb_typeof(s.doc -> m.key) = 'number'
      AND (v.x > m.high OR (v.x <> 0 AND abs(v.x) < m.low))
    ORDER BY m.n
    LIMIT 1
) range ON true
LEFT JOIN evaltool.prompt by_id
       ON by_id.dataset_id = c.dataset_id AND by_id.external_id = s.doc ->> 'id'
      AND by_id.deleted_at IS NULL
LEFT JOIN evaltool.prompt by_input
       ON s.doc ->> 'id' IS NULL AND by_input.dataset_id = c.dataset_id
      AND by_input.prompt_hash = evaltool.json_hash(s.doc -> 'input')
      AND by_input.deleted_at IS NULL
WHERE s.doc IS NOT NULL

-- response_insert --
-- One response per test case (and "sample", 1 unless given) of the run; a sample the run
-- already answered keeps its response. Without "cost_usd", the cost is computed from the
-- model's price in force when the call was made ("created_at", else now), and changes
-- with it; a given cost is kept (cost_given).
INSERT INTO evaltool.response
    (run_id, prompt_id, sample, status, output, output_text, error, latency_ms, input_tokens,
     output_tokens, tokens_estimated, cost_usd, cost_given, attempts, metadata, created_at)
SELECT c.run_id,
       r.prompt_id,
       coalesce(nullif(r.doc -> 'sample', 'null')::numeric::integer, 1),
       coalesce(r.doc ->> 'status',
                CASE WHEN coalesce(r.doc ->> 'error', '') <> '' THEN 'error' ELSE 'ok' END),
       nullif(r.doc -> 'output', 'null'),
       coalesce(r.doc ->> 'output_text',
                CASE WHEN jsonb_typeof(r.doc -> 'output') = 'string' THEN r.doc ->> 'output'
                     ELSE nullif(r.doc -> 'output', 'null')::text END),
       r.doc ->> 'error',
       nullif(r.doc -> 'latency_ms', 'null')::double precision,
       nullif(r.doc -> 'input_tokens', 'null')::numeric::bigint,
       nullif(r.doc -> 'output_tokens', 'null')::numeric::bigint,
       coalesce(nullif(r.doc -> 'tokens_estimated', 'null')::boolean, false),
       coalesce(nullif(r.doc -> 'cost_usd', 'null')::numeric,
                evaltool.call_cost_usd(c.model_id, r.called_at,
                                       nullif(r.doc -> 'input_tokens', 'null')::numeric::bigint,
                                       nullif(r.doc -> 'output_tokens', 'null')::numeric::bigint)),
       coalesce(r.doc -> 'cost_usd', 'null') <> 'null',
       coalesce(nullif(r.doc -> 'attempts', 'null')::numeric::integer, 1),
       (r.doc - '{id,input,sample,output,output_text,status,error,latency_ms,input_tokens,output_tokens,tokens_estimated,cost_usd,attempts,metadata,created_at}'::text[])
         || coalesce(nullif(r.doc -> 'metadata', 'null'), '{}'),
       r.called_at
FROM (SELECT r.*,
             coalesce(evaltool.iso_timestamptz(r.doc ->> 'created_at'),
                      now()) AS called_at
      FROM pg_temp.evaltool_rows r) r
CROSS JOIN pg_temp.evaltool_load_context c
WHERE r.reason IS NULL OR (NOT %(skip_invalid)s AND evaltool.load_reject(r.ord, r.reason))
ON CONFLICT (run_id, prompt_id, sample) DO NOTHING

-- run_repeats_loaded --
-- A run whose loaded responses hold more samples than it had records them.
UPDATE evaltool.run r
SET repeats = x.samples
FROM (SELECT max(sample) AS samples FROM evaltool.response WHERE run_id = %(run_id)s) x
WHERE r.id = %(run_id)s AND x.samples > r.repeats

-- run_for_load --
-- A run that records responses produced elsewhere: completed, with a snapshot of the
-- model and its price and parameters in force now.
INSERT INTO evaltool.run (model_id, dataset_id, name, status, model_snapshot, params,
                          started_at, finished_at, metadata)
SELECT m.id, %(dataset_id)s, %(name)s, 'completed',
       evaltool.model_snapshot(m.id, now()), evaltool.model_params_at(m.id, now()),
       now(), now(), jsonb_build_object('loaded_from', %(files)s::text[])
FROM evaltool.model m
WHERE m.name = %(model)s
RETURNING id

-- run_target --
-- The dataset, model and project of an existing run.
SELECT r.dataset_id, r.model_id, d.project_id
FROM evaltool.run r
JOIN evaltool.dataset d ON d.id = r.dataset_id
WHERE r.id = %(run_id)s
