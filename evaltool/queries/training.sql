-- training_project --
-- The id of a project, by name (no row when there is none).
SELECT id FROM evaltool.project WHERE name = %(project)s

-- training_any --
-- Whether a project has an active training example that matches the export's filters
-- (a NULL filter matches every example).
SELECT EXISTS (
    SELECT FROM evaltool.training_example t
    WHERE t.project_id = %(project_id)s AND t.deleted_at IS NULL
      AND (t.data_source = ANY (%(sources)s::text[]) OR %(sources)s::text[] IS NULL)
      AND (t.priority >= %(min_priority)s::integer OR %(min_priority)s::integer IS NULL)
)

-- training_export --
-- A project's active training examples as JSON lines, highest priority first (then in
-- loading order), each with the name of its split (NULL without --split).
-- Format 'prompt-completion': {"prompt", "completion", "priority", "data_source",
-- "metadata" (when not empty)}, values as stored: evaltool load training reads it back to
-- the same rows. It is built from JSON texts so that the keys keep this order (a jsonb
-- object sorts its keys). Format 'chat': OpenAI's {"messages": [user, assistant]}; a
-- prompt that is a list of messages (objects with a "role") gives those messages; content
-- that is not a JSON string becomes its JSON text.
-- The split depends only on the example's hash and the seed: the first 8 bytes of
-- sha256(seed as a big-endian bigint || example_hash), an unsigned number u below 2^64,
-- fall in the split whose lower bound (floor of the fractions before it times 2^64) is
-- the highest not above u; so an example keeps its split as the set grows.
COPY (
    SELECT CASE WHEN %(split_names)s::text[] IS NOT NULL
                THEN (%(split_names)s::text[])[width_bucket(
                         k.signed_bucket::numeric
                           + CASE WHEN k.signed_bucket < 0 THEN 18446744073709551616 ELSE 0 END,
                         %(split_bounds)s::numeric[])]
           END AS split,
           CASE WHEN %(format)s::text = 'chat'
                THEN jsonb_build_object('messages',
                         CASE WHEN m.is_messages THEN t.prompt
                              ELSE jsonb_build_array(jsonb_build_object(
                                       'role', 'user',
                                       'content', CASE WHEN jsonb_typeof(t.prompt) = 'string'
                                                       THEN t.prompt
                                                       ELSE to_jsonb(t.prompt::text) END))
                         END
                         || jsonb_build_array(jsonb_build_object(
                                'role', 'assistant',
                                'content', CASE WHEN jsonb_typeof(t.completion) = 'string'
                                                THEN t.completion
                                                ELSE to_jsonb(t.completion::text) END)))::text
                ELSE '{"prompt": ' || t.prompt::text
                     || ', "completion": ' || t.completion::text
                     || ', "priority": ' || t.priority
                     || ', "data_source": ' || to_jsonb(t.data_source)::text
                     || CASE WHEN t.metadata <> '{}' THEN ', "metadata": ' || t.metadata::text
                             ELSE '' END
                     || '}'
           END AS line
    FROM evaltool.training_example t
    CROSS JOIN LATERAL (
        SELECT ('x' || encode(substring(sha256(int8send(%(seed)s::bigint) || t.example_hash)
                                        FROM 1 FOR 8), 'hex'))::bit(64)::bigint AS signed_bucket
    ) k
    CROSS JOIN LATERAL (
        SELECT CASE WHEN jsonb_typeof(t.prompt) = 'array'
                    THEN t.prompt <> '[]' AND NOT EXISTS (
                             SELECT FROM jsonb_array_elements(t.prompt) e
                             WHERE jsonb_typeof(e) <> 'object' OR NOT e ? 'role')
                    ELSE false
               END AS is_messages
    ) m
    WHERE t.project_id = %(project_id)s AND t.deleted_at IS NULL
      AND (t.data_source = ANY (%(sources)s::text[]) OR %(sources)s::text[] IS NULL)
      AND (t.priority >= %(min_priority)s::integer OR %(min_priority)s::integer IS NULL)
    ORDER BY t.priority DESC, t.id
) TO STDOUT

-- training_list --
-- Training examples per project and data source: active and soft-deleted counts, the
-- priority range of the active ones, and when the last one was loaded.
SELECT p.name AS project, t.data_source,
       count(*) FILTER (WHERE t.deleted_at IS NULL) AS active,
       count(*) FILTER (WHERE t.deleted_at IS NOT NULL) AS deleted,
       min(t.priority) FILTER (WHERE t.deleted_at IS NULL) AS min_priority,
       max(t.priority) FILTER (WHERE t.deleted_at IS NULL) AS max_priority,
       max(t.created_at) AS last_loaded
FROM evaltool.training_example t
JOIN evaltool.project p ON p.id = t.project_id
WHERE p.name = %(project)s OR %(project)s IS NULL
GROUP BY p.name, t.data_source
ORDER BY p.name, t.data_source

-- training_show --
-- A project's training examples: active and soft-deleted counts, batches, when they were
-- loaded, and the active ones per data source and per priority band (most first, and
-- highest band first; json objects keep their keys in the order given).
SELECT count(*) FILTER (WHERE t.deleted_at IS NULL) AS active,
       count(*) FILTER (WHERE t.deleted_at IS NOT NULL) AS deleted,
       count(DISTINCT t.batch) FILTER (WHERE t.deleted_at IS NULL) AS batches,
       min(t.created_at) AS first_loaded,
       max(t.created_at) AS last_loaded,
       (SELECT coalesce(json_object_agg(data_source, n ORDER BY n DESC, data_source), '{}')
        FROM (SELECT data_source, count(*) AS n FROM evaltool.training_example
              WHERE project_id = %(project_id)s AND deleted_at IS NULL
              GROUP BY data_source) s) AS sources,
       (SELECT coalesce(json_object_agg(
                   CASE WHEN band = 0 THEN '1-99'
                        WHEN band = 900 THEN '900-1000'
                        ELSE band || '-' || (band + 99) END,
                   n ORDER BY band DESC), '{}')
        FROM (SELECT least(priority / 100, 9) * 100 AS band, count(*) AS n
              FROM evaltool.training_example
              WHERE project_id = %(project_id)s AND deleted_at IS NULL
              GROUP BY 1) b) AS priorities
FROM evaltool.training_example t
WHERE t.project_id = %(project_id)s

-- training_count --
-- How many of a project's training examples match the filters of delete (active ones,
-- deleted false) or restore (soft-deleted ones, deleted true); a NULL filter matches all.
SELECT count(*) FROM evaltool.training_example t
WHERE t.project_id = %(project_id)s AND (t.deleted_at IS NOT NULL) = %(deleted)s::boolean
  AND (t.data_source = ANY (%(sources)s::text[]) OR %(sources)s::text[] IS NULL)
  AND (t.batch = %(batch)s::text OR %(batch)s::text IS NULL)
  AND (t.priority <= %(max_priority)s::integer OR %(max_priority)s::integer IS NULL)

-- training_soft_delete --
-- Soft-deletes a project's active training examples that match the filters (as in
-- training_count): exports leave them out.
UPDATE evaltool.training_example t SET deleted_at = now()
WHERE t.project_id = %(project_id)s AND t.deleted_at IS NULL
  AND (t.data_source = ANY (%(sources)s::text[]) OR %(sources)s::text[] IS NULL)
  AND (t.batch = %(batch)s::text OR %(batch)s::text IS NULL)
  AND (t.priority <= %(max_priority)s::integer OR %(max_priority)s::integer IS NULL)

-- training_restore --
-- Undoes the soft delete of a project's training examples that match the filters.
UPDATE evaltool.training_example t SET deleted_at = NULL
WHERE t.project_id = %(project_id)s AND t.deleted_at IS NOT NULL
  AND (t.data_source = ANY (%(sources)s::text[]) OR %(sources)s::text[] IS NULL)
  AND (t.batch = %(batch)s::text OR %(batch)s::text IS NULL)
  AND (t.priority <= %(max_priority)s::integer OR %(max_priority)s::integer IS NULL)
