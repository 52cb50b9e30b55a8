-- scorer_names --
-- The built-in SQL scorers, and which compare with an expected answer (those can score
-- against a reference run's outputs instead).
SELECT name, compares_expected FROM evaltool.scorer

-- suite_previous_run --
-- The suite's last completed run of a model with a template of the given name (NULL: no
-- template), before this evaluation made any: what `baseline: previous` compares with.
SELECT r.id
FROM evaltool.run r
JOIN evaltool.model m ON m.id = r.model_id
LEFT JOIN evaltool.prompt_template t ON t.id = r.template_id
WHERE r.suite = %(suite)s AND r.status = 'completed' AND m.name = %(model)s
  AND t.name IS NOT DISTINCT FROM %(template)s::text
ORDER BY r.created_at DESC, r.id DESC
LIMIT 1

-- run_exists --
-- Whether a run of that id exists.
SELECT EXISTS (SELECT FROM evaltool.run WHERE id = %(run_id)s)
