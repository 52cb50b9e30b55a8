-- template_lock --
-- Serialises adds of one template name until the transaction ends, so that two sessions
-- adding changed bodies at the same moment number their versions one after the other.
SELECT pg_advisory_xact_lock(hashtextextended('evaltool.prompt_template ' || %(name)s, 0))

-- template_add --
-- Adds the body as the next version of the name, unless a version of the name already has
-- the same body (the trigger hashes it: prompt_template_name_hash_key); then no row.
INSERT INTO evaltool.prompt_template (name, version, body, description)
SELECT %(name)s, coalesce(max(t.version), 0) + 1, %(body)s, %(description)s
FROM evaltool.prompt_template t
WHERE t.name = %(name)s
ON CONFLICT (name, template_hash) DO NOTHING
RETURNING id, name, version, body, template_hash, description, created_at, created_by

-- template_same --
-- The version of the name whose body hashes as the one given (the hash the trigger sets).
SELECT id, name, version, body, template_hash, description, created_at, created_by
FROM evaltool.prompt_template
WHERE name = %(name)s AND template_hash = evaltool.json_hash(%(body)s)

-- template_get --
-- One version of a template by name, the highest when no version is given.
SELECT id, name, version, body, template_hash, description, created_at, created_by
FROM evaltool.prompt_template
WHERE name = %(name)s AND (version = %(version)s::integer OR %(version)s::integer IS NULL)
ORDER BY version DESC
LIMIT 1

-- template_versions --
-- Every version of a template, oldest first.
SELECT id, name, version, body, template_hash, description, created_at, created_by
FROM evaltool.prompt_template
WHERE name = %(name)s
ORDER BY version

-- template_list --
-- Each template with its latest version, how many versions it has, when the latest was
-- added and its description, by name.
SELECT DISTINCT ON (t.name)
       t.name, t.version, count(*) OVER (PARTITION BY t.name) AS versions,
       t.created_at AS updated, t.description
FROM evaltool.prompt_template t
ORDER BY t.name, t.version DESC

-- template_by_id --
-- One template version by id: the one a run records.
SELECT id, name, version, body, template_hash, description, created_at, created_by
FROM evaltool.prompt_template
WHERE id = %(id)s
