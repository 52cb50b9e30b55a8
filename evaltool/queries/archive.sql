-- archive_runs --
-- The runs created before %(before)s that are done (completed, failed or interrupted) and
-- not archived yet: what `evaltool runs archive` moves to a file.
SELECT r.id
FROM evaltool.run r
WHERE r.created_at < %(before)s AND r.status IN ('completed', 'failed', 'interrupted')
  AND NOT EXISTS (SELECT FROM evaltool.run_archived a WHERE a.run_id = r.id)
ORDER BY r.id

-- archive_count --
-- How many lines archive_lines writes for the runs %(runs)s: one per response.
SELECT count(*) FROM evaltool.response x WHERE x.run_id = ANY (%(runs)s::bigint[])

-- archive_lines --
-- One line per response of the runs: the response, its scores, its score history and the
-- preferences that name it (a preference between two archived responses goes with A's),
-- every row as to_jsonb gives it, so `evaltool load archive` restores them as they were.
SELECT jsonb_build_object(
           'evaltool_archive', 1,
           'response', to_jsonb(x),
           'scores', coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.id)
                               FROM evaltool.score s
                               WHERE s.run_id = x.run_id AND s.response_id = x.id), '[]'),
           'history', coalesce((SELECT jsonb_agg(to_jsonb(h) ORDER BY h.id)
                                FROM evaltool.score_history h
                                WHERE h.run_id = x.run_id AND h.response_id = x.id), '[]'),
           'preferences', coalesce((SELECT jsonb_agg(to_jsonb(p) ORDER BY p.id)
                                    FROM evaltool.preference p
                                    WHERE (p.run_a_id = x.run_id AND p.response_a_id = x.id)
                                       OR (p.run_b_id = x.run_id AND p.response_b_id = x.id
                                           AND p.run_a_id <> ALL (%(runs)s::bigint[]))), '[]')
       )::text
FROM evaltool.response x
WHERE x.run_id = ANY (%(runs)s::bigint[])
ORDER BY x.run_id, x.id

-- archive_remember --
-- The runs' summaries as run_summary computes them now, kept for when their rows are gone.
INSERT INTO evaltool.run_archived (run_id, test_cases, ok, errors, cached, input_tokens,
                                   output_tokens, cost_usd, latency_p50_ms, latency_p95_ms,
                                   responses, scores, file)
SELECT s.run_id, s.test_cases, s.ok, s.errors, s.cached, s.input_tokens, s.output_tokens,
       s.cost_usd, s.latency_p50_ms, s.latency_p95_ms,
       (SELECT count(*) FROM evaltool.response x WHERE x.run_id = s.run_id),
       (SELECT count(*) FROM evaltool.score c WHERE c.run_id = s.run_id),
       %(file)s
FROM evaltool.run_summary s
WHERE s.run_id = ANY (%(runs)s::bigint[])

-- archive_preferences_delete --
-- The preferences that name the runs' responses (they are in the file).
DELETE FROM evaltool.preference p
WHERE p.run_a_id = ANY (%(runs)s::bigint[]) OR p.run_b_id = ANY (%(runs)s::bigint[])

-- archive_ranges --
-- The ranges of run ids whose partitions can go whole: every run in them archived, and a
-- later range exists (new runs never land in them again).
SELECT g.run_from, g.run_to
FROM evaltool.run_partition g
WHERE g.dropped_at IS NULL
  AND g.run_to < (SELECT max(run_to) FROM evaltool.run_partition)
  AND NOT EXISTS (SELECT FROM evaltool.run r
                  WHERE r.id >= g.run_from AND r.id < g.run_to
                    AND NOT EXISTS (SELECT FROM evaltool.run_archived a WHERE a.run_id = r.id))
ORDER BY g.run_from

-- archive_range_dropped --
-- A range whose partitions were dropped.
UPDATE evaltool.run_partition SET dropped_at = now() WHERE run_from = %(run_from)s

-- archive_rows_delete --
-- The responses of the runs left in partitions that stay (their scores and score history
-- go with them).
DELETE FROM evaltool.response x WHERE x.run_id = ANY (%(runs)s::bigint[])

-- archive_rows_create --
-- Staged archive lines, with the reason one cannot be restored (NULL when it can): its run
-- must be an archived run of this database, and its response not here already.
CREATE TEMP VIEW evaltool_rows AS
SELECT s.ord, s.doc,
       CASE
           WHEN jsonb_typeof(s.doc) <> 'object' THEN 'not a JSON object'
           WHEN s.doc -> 'evaltool_archive' IS DISTINCT FROM '1'
               THEN 'not a line of an evaltool archive ("evaltool_archive": 1)'
           WHEN jsonb_typeof(s.doc -> 'response') <> 'object'
                OR jsonb_typeof(s.doc -> 'response' -> 'run_id') <> 'number'
                OR jsonb_typeof(s.doc -> 'response' -> 'id') <> 'number'
               THEN '"response" must be an object with "id" and "run_id"'
           WHEN EXISTS (SELECT FROM unnest(ARRAY['scores', 'history', 'preferences']) k
                        WHERE jsonb_typeof(s.doc -> k) <> 'array')
               THEN '"scores", "history" and "preferences" must be arrays'
           WHEN NOT EXISTS (SELECT FROM evaltool.run r
                            WHERE r.id = (s.doc -> 'response' ->> 'run_id')::numeric)
               THEN format('run %s is not in this database', s.doc -> 'response' -> 'run_id')
           WHEN NOT EXISTS (SELECT FROM evaltool.run_archived a
                            WHERE a.run_id = (s.doc -> 'response' ->> 'run_id')::numeric)
               THEN format('run %s is not archived: its rows are here',
                           s.doc -> 'response' -> 'run_id')
       END AS reason
FROM pg_temp.evaltool_stage s

-- archive_check --
-- Without --skip-invalid, the first line that cannot be restored stops the load, named.
SELECT evaltool.load_reject(w.ord, w.reason)
FROM (SELECT r.ord, r.reason FROM evaltool_rows r
      WHERE r.reason IS NOT NULL ORDER BY r.ord LIMIT 1) w
WHERE NOT %(skip_invalid)s

-- archive_partitions_restore --
-- The partitions of the dropped ranges that the staged runs need, created again.
SELECT DISTINCT g.run_from, g.run_to
FROM evaltool_rows w
JOIN evaltool.run_partition g
  ON (w.doc -> 'response' ->> 'run_id')::bigint >= g.run_from
 AND (w.doc -> 'response' ->> 'run_id')::bigint < g.run_to
WHERE w.reason IS NULL AND g.dropped_at IS NOT NULL
ORDER BY g.run_from

-- archive_partitions_create --
-- A dropped range's partitions, as new ranges get them.
SELECT evaltool.create_run_partitions(%(run_from)s, %(run_to)s)

-- archive_range_restored --
-- A range whose partitions exist again.
UPDATE evaltool.run_partition SET dropped_at = NULL WHERE run_from = %(run_from)s

-- archive_insert --
-- The staged responses back, with their ids. Returns how many, and their runs. Columns
-- added since an archive was written take their defaults (cost_given: false).
WITH ok AS (
    SELECT w.doc FROM evaltool_rows w WHERE w.reason IS NULL
), responses AS (
    INSERT INTO evaltool.response OVERRIDING SYSTEM VALUE
    SELECT (jsonb_populate_record(NULL::evaltool.response,
                                  '{"cost_given": false}' || (ok.doc -> 'response'))).*
    FROM ok
    ORDER BY (ok.doc -> 'response' ->> 'run_id')::bigint, (ok.doc -> 'response' ->> 'id')::bigint
    RETURNING run_id
)
SELECT count(*), array_agg(DISTINCT run_id) FROM responses

-- archive_insert_scores --
-- The staged scores of the restored responses.
INSERT INTO evaltool.score OVERRIDING SYSTEM VALUE
SELECT (jsonb_populate_record(NULL::evaltool.score, e)).*
FROM evaltool_rows w CROSS JOIN LATERAL jsonb_array_elements(w.doc -> 'scores') e
WHERE w.reason IS NULL

-- archive_insert_history --
-- The staged score history of the restored responses.
INSERT INTO evaltool.score_history OVERRIDING SYSTEM VALUE
SELECT (jsonb_populate_record(NULL::evaltool.score_history, e)).*
FROM evaltool_rows w CROSS JOIN LATERAL jsonb_array_elements(w.doc -> 'history') e
WHERE w.reason IS NULL

-- archive_insert_preferences --
-- The staged preferences whose two responses are here (again).
INSERT INTO evaltool.preference OVERRIDING SYSTEM VALUE
SELECT (jsonb_populate_record(NULL::evaltool.preference, e)).*
FROM evaltool_rows w CROSS JOIN LATERAL jsonb_array_elements(w.doc -> 'preferences') e
WHERE w.reason IS NULL
  AND EXISTS (SELECT FROM evaltool.response a
              WHERE a.run_id = (e ->> 'run_a_id')::bigint AND a.id = (e ->> 'response_a_id')::bigint)
  AND EXISTS (SELECT FROM evaltool.response b
              WHERE b.run_id = (e ->> 'run_b_id')::bigint AND b.id = (e ->> 'response_b_id')::bigint)
ON CONFLICT DO NOTHING

-- archive_forget --
-- The restored runs are no longer archived: run_summary reads their rows again.
DELETE FROM evaltool.run_archived WHERE run_id = ANY (%(runs)s::bigint[])
