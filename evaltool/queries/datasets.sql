-- project_ensure --
-- The id of the named project, created when absent; created tells which.
WITH made AS (
    INSERT INTO evaltool.project (name) VALUES (%(project)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id, true AS created FROM made
UNION ALL
SELECT id, false FROM evaltool.project WHERE name = %(project)s
LIMIT 1

-- dataset_ensure --
-- The named dataset version of a project, created when absent.
WITH made AS (
    INSERT INTO evaltool.dataset (project_id, name, version)
    VALUES (%(project_id)s, %(name)s, %(version)s)
    ON CONFLICT (project_id, name, version) DO NOTHING
    RETURNING id, deleted_at
)
SELECT id, deleted_at, true AS created FROM made
UNION ALL
SELECT id, deleted_at, false FROM evaltool.dataset
WHERE project_id = %(project_id)s AND name = %(name)s AND version = %(version)s
LIMIT 1

-- dataset_find --
-- A dataset by project, name and version (the highest version when none is named).
SELECT d.id, d.version, d.deleted_at
FROM evaltool.dataset d
JOIN evaltool.project p ON p.id = d.project_id
WHERE p.name = %(project)s AND d.name = %(name)s
  AND (d.version = %(version)s OR %(version)s IS NULL)
ORDER BY d.deleted_at IS NOT NULL, length(d.version) DESC, d.version DESC
LIMIT 1

-- project_names --
-- Every project's name, in order.
SELECT name FROM evaltool.project ORDER BY name

-- dataset_list --
-- Datasets with their live test cases, newest first.
SELECT p.name AS project, d.name, d.version, count(t.id) AS test_cases,
       d.created_at, d.created_by, d.deleted_at
FROM evaltool.dataset d
JOIN evaltool.project p ON p.id = d.project_id
LEFT JOIN evaltool.prompt t ON t.dataset_id = d.id AND t.deleted_at IS NULL
WHERE (d.deleted_at IS NULL OR %(all)s)
  AND (p.name = %(project)s OR %(project)s IS NULL)
GROUP BY p.name, d.id
ORDER BY d.created_at DESC, d.id DESC

-- dataset_show --
-- One dataset: counts by origin and verification, tags, runs.
SELECT p.name AS project, d.name, d.version, d.description, d.created_at, d.created_by,
       d.updated_at, d.deleted_at,
       (SELECT count(*) FROM evaltool.prompt t WHERE t.dataset_id = d.id
          AND t.deleted_at IS NULL) AS test_cases,
       (SELECT count(*) FROM evaltool.prompt t WHERE t.dataset_id = d.id
          AND t.deleted_at IS NULL AND t.expected IS NOT NULL) AS with_expected,
       -- json (not jsonb) objects keep their keys in the order given: most frequent first
       (SELECT coalesce(json_object_agg(origin, n ORDER BY n DESC, origin), '{}') FROM (
            SELECT origin, count(*) AS n FROM evaltool.prompt t
            WHERE t.dataset_id = d.id AND t.deleted_at IS NULL GROUP BY origin) o) AS origins,
       (SELECT coalesce(json_object_agg(tag, n ORDER BY n DESC, tag), '{}') FROM (
            SELECT tag, count(*) AS n FROM evaltool.prompt t, unnest(t.tags) tag
            WHERE t.dataset_id = d.id AND t.deleted_at IS NULL
            GROUP BY tag ORDER BY n DESC, tag LIMIT 20) g) AS top_tags,
       (SELECT count(*) FROM evaltool.run r WHERE r.dataset_id = d.id) AS runs
FROM evaltool.dataset d
JOIN evaltool.project p ON p.id = d.project_id
WHERE d.id = %(dataset_id)s

-- dataset_export --
-- The live test cases of a dataset as evaltool JSON lines, in insertion order; fields
-- at their default value are left out, so a reload gives back the same rows.
COPY (
    SELECT jsonb_build_object('input', input)
           || CASE WHEN external_id IS NOT NULL THEN jsonb_build_object('id', external_id)
                   ELSE '{}' END
           || CASE WHEN expected IS NOT NULL THEN jsonb_build_object('expected', expected)
                   ELSE '{}' END
           || CASE WHEN tags <> '{}' THEN jsonb_build_object('tags', tags) ELSE '{}' END
           || CASE WHEN metadata <> '{}' THEN jsonb_build_object('metadata', metadata)
                   ELSE '{}' END
           || CASE WHEN origin <> 'human' THEN jsonb_build_object('origin', origin)
                   ELSE '{}' END
           || CASE WHEN is_verified <> (origin = 'human')
                   THEN jsonb_build_object('is_verified', is_verified) ELSE '{}' END
    FROM evaltool.prompt
    WHERE dataset_id = %(dataset_id)s AND deleted_at IS NULL
    ORDER BY id
) TO STDOUT

-- dataset_soft_delete --
-- Hides a dataset; its test cases and results stay.
UPDATE evaltool.dataset SET deleted_at = now() WHERE id = %(dataset_id)s AND deleted_at IS NULL

-- dataset_hard_delete --
-- Deletes a dataset and its test cases (refused while runs use it).
DELETE FROM evaltool.dataset WHERE id = %(dataset_id)s

-- dataset_runs --
-- How many runs use a dataset.
SELECT count(*) FROM evaltool.run WHERE dataset_id = %(dataset_id)s
