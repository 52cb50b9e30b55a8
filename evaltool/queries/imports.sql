-- model_for_import --
-- The registered model an imported run belongs to: the one of its name, else the only one
-- its provider knows by the identifier the file gives (so that its prices apply).
(SELECT id, name FROM evaltool.model WHERE name = %(name)s)
UNION ALL
(SELECT min(id), min(name) FROM evaltool.model WHERE model_id = %(model_id)s HAVING count(*) = 1)
LIMIT 1

-- model_imported --
-- The model of an imported run: the one of that name, or one registered now as imported
-- (evaltool cannot call it) with what the file says about it.
WITH made AS (
    INSERT INTO evaltool.model (provider_id, name, model_id, adapter, description)
    VALUES (%(provider_id)s, %(name)s, %(model_id)s, 'imported', %(description)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id, true AS created
)
SELECT id, created FROM made
UNION ALL
SELECT id, false FROM evaltool.model WHERE name = %(name)s
LIMIT 1

-- run_imported_find --
-- A run an earlier import of the same files made, to add to rather than repeat.
SELECT id FROM evaltool.run
WHERE dataset_id = %(dataset_id)s AND model_id = %(model_id)s
  AND metadata -> 'imported' @> %(imported)s
ORDER BY id
LIMIT 1

-- run_imported --
-- A run recorded by another tool: completed, at the time the file gives (else now), with
-- the parameters it gives and where it came from.
INSERT INTO evaltool.run (model_id, dataset_id, name, status, model_snapshot, params,
                          started_at, finished_at, metadata)
SELECT m.id, %(dataset_id)s, %(name)s, 'completed',
       evaltool.model_snapshot(m.id, t.started_at), %(params)s, t.started_at,
       greatest(t.started_at, coalesce(evaltool.iso_timestamptz(%(finished_at)s), t.started_at)),
       jsonb_build_object('imported', %(imported)s::jsonb) || %(metadata)s
FROM evaltool.model m
CROSS JOIN (SELECT coalesce(evaltool.iso_timestamptz(%(started_at)s), now()) AS started_at) t
WHERE m.id = %(model_id)s
RETURNING id

-- run_imported_span --
-- An imported run's start and end from the times of its calls, where they were given.
UPDATE evaltool.run r
SET started_at = least(r.started_at, x.first_call),
    finished_at = greatest(r.finished_at, x.last_call)
FROM (SELECT min(created_at) AS first_call, max(created_at) AS last_call
      FROM evaltool.response WHERE run_id = %(run_id)s) x
WHERE r.id = %(run_id)s AND x.first_call IS NOT NULL
