-- training_rows_create --
-- Staged {"prompt", "completion" or "enhancement", ...} lines, with the batch file and
-- line each came from and the reason it cannot be loaded (NULL when it can).
CREATE TEMP VIEW evaltool_rows AS
SELECT s.ord, s.doc,
       c.source_names[width_bucket(s.ord, c.first_rows)] AS batch,
       s.ord - c.first_rows[width_bucket(s.ord, c.first_rows)] + 1 AS batch_line,
       CASE
           WHEN jsonb_typeof(s.doc) <> 'object' THEN 'not a JSON object'
           WHEN coalesce(s.doc -> 'prompt', 'null') = 'null' THEN 'missing "prompt"'
           WHEN s.doc ? 'completion' AND s.doc ? 'enhancement'
               THEN 'give "completion" or "enhancement", not both'
           WHEN coalesce(s.doc -> 'completion', s.doc -> 'enhancement', 'null') = 'null'
               THEN 'missing "completion" (or "enhancement")'
           WHEN jsonb_typeof(s.doc -> 'priority') NOT IN ('number', 'null')
               THEN '"priority" must be a whole number from 1 to 1000'
           WHEN CASE WHEN jsonb_typeof(s.doc -> 'priority') = 'number'
                     THEN (s.doc -> 'priority')::numeric NOT BETWEEN 1 AND 1000
                          OR (s.doc -> 'priority')::numeric % 1 <> 0 END
               THEN '"priority" must be a whole number from 1 to 1000'
           WHEN jsonb_typeof(s.doc -> 'data_source') NOT IN ('string', 'null')
                OR s.doc ->> 'data_source' = ''
               THEN '"data_source" must be a non-empty string'
           WHEN jsonb_typeof(s.doc -> 'metadata') NOT IN ('object', 'null')
               THEN '"metadata" must be an object'
       END AS reason
FROM pg_temp.evaltool_stage s
CROSS JOIN pg_temp.evaltool_load_context c
WHERE s.doc IS NOT NULL

-- training_insert --
-- Training examples from every valid line; a pair the project already holds adds nothing.
INSERT INTO evaltool.training_example
    (project_id, prompt, completion, data_source, priority, batch, batch_line, metadata)
SELECT c.project_id,
       r.doc -> 'prompt',
       coalesce(r.doc -> 'completion', r.doc -> 'enhancement'),
       coalesce(r.doc ->> 'data_source', %(data_source)s),
       coalesce(nullif(r.doc -> 'priority', 'null')::numeric::integer, %(priority)s),
       r.batch,
       r.batch_line,
       (r.doc - '{prompt,completion,enhancement,priority,data_source,metadata}'::text[])
         || coalesce(nullif(r.doc -> 'metadata', 'null'), '{}')
FROM pg_temp.evaltool_rows r
CROSS JOIN pg_temp.evaltool_load_context c
WHERE r.reason IS NULL OR (NOT %(skip_invalid)s AND evaltool.load_reject(r.ord, r.reason))
ON CONFLICT (project_id, example_hash) DO NOTHING
