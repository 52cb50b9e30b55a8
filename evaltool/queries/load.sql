-- stage_memory --
-- Lets the staging table use up to 256 MB of memory before it spills to disk.
SELECT set_config('temp_buffers', '256MB', false)

-- stage_create --
-- The staging table of one load: one row per input line, numbered in arrival order by
-- the sequence evaltool_stage_ord, which COPY draws from once a row is parsed.
DROP TABLE IF EXISTS pg_temp.evaltool_stage CASCADE;
CREATE TEMP TABLE evaltool_stage (
    ord bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME evaltool_stage_ord),
    doc jsonb
);

-- stage_copy --
-- COPY of JSON lines as one-column CSV whose delimiter and quote bytes never occur in
-- valid JSON text: each line reaches the jsonb parser as it is; an empty line is NULL.
COPY pg_temp.evaltool_stage (doc) FROM STDIN (FORMAT csv, DELIMITER E'\x02', QUOTE E'\x01')

-- stage_next_ord --
-- After a refused COPY under a savepoint: the row it refused. The rows are gone, but the
-- numbers drawn for the rows before it are not (sequences ignore rollbacks), and no number
-- is drawn for a row that fails to parse: the refused row is the next number.
SELECT last_value + is_called::int FROM pg_temp.evaltool_stage_ord

-- stage_rewind --
-- After a refused COPY under a savepoint: the rows are gone but the identity moved on;
-- set it back so that row numbers keep matching input lines.
SELECT setval('pg_temp.evaltool_stage_ord', %(next)s, false)

-- stage_drop --
-- Removes the staging table and the views over it.
DROP TABLE IF EXISTS pg_temp.evaltool_stage CASCADE

-- docs_native --
-- evaltool's own line format: {"input", "expected", "id", "tags", "metadata", "origin", "is_verified"}.
CREATE TEMP VIEW evaltool_docs AS
SELECT ord, doc, NULL::text AS reason
FROM pg_temp.evaltool_stage
WHERE doc IS NOT NULL

-- docs_openai_evals --
-- OpenAI evals samples: {"input": [messages], "ideal": answer or [answers]}.
CREATE TEMP VIEW evaltool_docs AS
SELECT ord,
       CASE WHEN jsonb_typeof(doc) = 'object'
            THEN (doc - 'ideal') || jsonb_build_object('expected', doc -> 'ideal')
            ELSE doc END AS doc,
       NULL::text AS reason
FROM pg_temp.evaltool_stage
WHERE doc IS NOT NULL

-- docs_chat --
-- Chat fine-tuning lines: {"messages": [...]}. A final assistant message is the expected
-- output (its content; a tool call, as the message without its role and empty content);
-- the messages before it are the input.
CREATE TEMP VIEW evaltool_docs AS
SELECT ord,
       CASE WHEN ok AND last_role = 'assistant'
            THEN (doc - 'messages') || jsonb_build_object(
                     'input', (doc -> 'messages') - -1,
                     'expected',
                     CASE WHEN (doc -> 'messages' -> -1) ?| ARRAY['tool_calls', 'function_call']
                          THEN jsonb_strip_nulls((doc -> 'messages' -> -1) - 'role')
                          ELSE doc -> 'messages' -> -1 -> 'content' END)
            WHEN ok
            THEN (doc - 'messages') || jsonb_build_object('input', doc -> 'messages')
            ELSE doc END AS doc,
       CASE WHEN NOT ok
            THEN '"messages" must be a non-empty array of {"role", "content"} objects' END AS reason
FROM (
    SELECT ord, doc,
           jsonb_typeof(doc) = 'object'
             AND jsonb_typeof(doc -> 'messages') = 'array'
             AND jsonb_array_length(doc -> 'messages') > 0
             AND NOT jsonb_path_exists(doc -> 'messages',
                                       '$[*] ? (@.type() != "object" || !exists(@.role))') AS ok,
           doc -> 'messages' -> -1 ->> 'role' AS last_role
    FROM pg_temp.evaltool_stage
    WHERE doc IS NOT NULL
) s

-- docs_inspect --
-- Inspect samples: {"input", "target", "choices", "id", "metadata", ...}; choices, when
-- present, travel with the input.
CREATE TEMP VIEW evaltool_docs AS
SELECT ord,
       CASE WHEN jsonb_typeof(doc) = 'object'
            THEN (doc - 'target' - 'choices' - 'input') || jsonb_build_object(
                     'input', CASE WHEN doc ? 'choices'
                                   THEN jsonb_build_object('input', doc -> 'input',
                                                           'choices', doc -> 'choices')
                                   ELSE doc -> 'input' END,
                     'expected', doc -> 'target')
            ELSE doc END AS doc,
       NULL::text AS reason
FROM pg_temp.evaltool_stage
WHERE doc IS NOT NULL

-- docs_lm_eval --
-- lm-evaluation-harness --log_samples lines: {"doc_id", "doc", "target", "resps", ...}:
-- the test case is "doc", its expected answer "target", its id "doc_id"; the model's
-- answers and metrics are left out (evaltool import lm-eval loads them as a run).
CREATE TEMP VIEW evaltool_docs AS
SELECT ord,
       CASE WHEN jsonb_typeof(doc) = 'object'
            THEN jsonb_build_object('input', doc -> 'doc')
                 || CASE WHEN doc ? 'target' THEN jsonb_build_object('expected', doc -> 'target')
                         ELSE '{}' END
                 || CASE WHEN doc ? 'doc_id' THEN jsonb_build_object('id', doc ->> 'doc_id')
                         ELSE '{}' END
            ELSE doc END AS doc,
       NULL::text AS reason
FROM pg_temp.evaltool_stage
WHERE doc IS NOT NULL

-- docs_count --
-- Non-empty lines staged.
SELECT count(*) FROM pg_temp.evaltool_stage WHERE doc IS NOT NULL

-- docs_first --
-- The first staged document and its row, for format detection.
SELECT ord, doc FROM pg_temp.evaltool_stage WHERE doc IS NOT NULL ORDER BY ord LIMIT 1

-- context_create --
-- What the row views of one load need besides the staged lines: its target and where each
-- input starts (first row numbers, ascending, and names), for width_bucket lookups.
CREATE TEMP TABLE evaltool_load_context AS
SELECT %(project_id)s::bigint AS project_id,
       %(dataset_id)s::bigint AS dataset_id,
       %(run_id)s::bigint AS run_id,
       %(run_b_id)s::bigint AS run_b_id,
       %(model_id)s::bigint AS model_id,
       %(first_rows)s::bigint[] AS first_rows,
       %(source_names)s::text[] AS source_names

-- context_drop --
-- Removes the context table and the views over it.
DROP TABLE IF EXISTS pg_temp.evaltool_load_context CASCADE

-- rows_rejects --
-- Lines of a load's row view that cannot be loaded, first line first.
SELECT ord, reason, doc::text
FROM pg_temp.evaltool_rows
WHERE reason IS NOT NULL
ORDER BY ord
