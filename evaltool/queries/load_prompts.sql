-- prompt_rows_create --
-- Each staged document with the reason it cannot become a test case (NULL when it can).
CREATE TEMP VIEW evaltool_prompt_rows AS
SELECT ord, doc,
       CASE
           WHEN reason IS NOT NULL THEN reason
           WHEN jsonb_typeof(doc) <> 'object' THEN 'not a JSON object'
           WHEN coalesce(doc -> 'input', 'null') = 'null' THEN 'missing "input"'
           WHEN jsonb_typeof(doc -> 'tags') NOT IN ('array', 'null')
                OR jsonb_path_exists(doc -> 'tags', '$[*] ? (@.type() != "string")')
               THEN '"tags" must be an array of strings'
           WHEN jsonb_typeof(doc -> 'metadata') NOT IN ('object', 'null')
               THEN '"metadata" must be an object'
           WHEN jsonb_typeof(doc -> 'origin') NOT IN ('string', 'null')
                OR doc ->> 'origin' NOT IN ('human', 'synthetic', 'imported', 'production')
               THEN '"origin" must be one of human, synthetic, imported, production'
           WHEN jsonb_typeof(doc -> 'id') NOT IN ('string', 'number', 'null')
               THEN '"id" must be a string or a number'
           WHEN doc ->> 'id' = '' THEN '"id" must not be empty'
           WHEN jsonb_typeof(doc -> 'is_verified') NOT IN ('boolean', 'null')
               THEN '"is_verified" must be true or false'
       END AS reason
FROM pg_temp.evaltool_docs

-- prompt_rejects --
-- Lines that cannot become test cases, first line first.
SELECT ord, reason, doc::text
FROM pg_temp.evaltool_prompt_rows
WHERE reason IS NOT NULL
ORDER BY ord

-- prompt_id_conflicts --
-- Lines whose id is already used by a different input, earlier in the input or in the
-- dataset; other_ord is the earlier line, NULL when the dataset holds the other input.
WITH rows AS (
    SELECT ord, doc ->> 'id' AS id, evaltool.json_hash(doc -> 'input') AS hash
    FROM pg_temp.evaltool_prompt_rows
    WHERE reason IS NULL AND doc ->> 'id' IS NOT NULL AND ord <> ALL (%(skip)s::bigint[])
)
SELECT ord, id, other_ord
FROM (
    SELECT ord, id, first_value(ord) OVER w AS other_ord, first_value(hash) OVER w <> hash AS clash
    FROM rows
    WINDOW w AS (PARTITION BY id ORDER BY ord)
    UNION ALL
    SELECT r.ord, r.id, NULL, true
    FROM rows r
    JOIN evaltool.prompt p
      ON p.dataset_id = %(dataset_id)s AND p.external_id = r.id AND p.prompt_hash <> r.hash
) c
WHERE clash
ORDER BY ord

-- prompt_insert --
-- Test cases from every valid line. Unless rejects are skipped, the first invalid line
-- stops the statement through evaltool.load_reject, which names its row. Followed by
-- prompt_on_conflict, except for a first load into an empty dataset (faster without).
INSERT INTO evaltool.prompt
    (dataset_id, external_id, input, expected, tags, metadata, origin, is_verified)
SELECT %(dataset_id)s,
       doc ->> 'id',
       doc -> 'input',
       nullif(doc -> 'expected', 'null'),
       CASE WHEN jsonb_typeof(doc -> 'tags') = 'array'
            THEN ARRAY(SELECT jsonb_array_elements_text(doc -> 'tags')) ELSE '{}' END,
       (doc - '{id,input,expected,tags,metadata,origin,is_verified}'::text[])
         || coalesce(nullif(doc -> 'metadata', 'null'), '{}'),
       coalesce(doc ->> 'origin', 'human'),
       CASE WHEN jsonb_typeof(doc -> 'is_verified') = 'boolean'
            THEN (doc -> 'is_verified')::boolean END
FROM pg_temp.evaltool_prompt_rows
WHERE (reason IS NULL OR (NOT %(skip_invalid)s AND evaltool.load_reject(ord, reason)))
  AND ord <> ALL (%(skip)s::bigint[])

-- prompt_on_conflict --
-- A line whose input the dataset already holds, or that repeats an earlier line, is a
-- duplicate and adds nothing.
ON CONFLICT (dataset_id, prompt_hash) DO NOTHING

-- dataset_is_empty --
-- Whether a dataset has no test case yet.
SELECT NOT EXISTS (SELECT FROM evaltool.prompt WHERE dataset_id = %(dataset_id)s)
