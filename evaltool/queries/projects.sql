-- project_list --
-- Projects with their datasets, runs, this month's spend (the session's time zone, from
-- the cost ledger) and monthly budget.
SELECT p.name AS project,
       (SELECT count(*) FROM evaltool.dataset d
        WHERE d.project_id = p.id AND d.deleted_at IS NULL) AS datasets,
       (SELECT count(*) FROM evaltool.run r JOIN evaltool.dataset d ON d.id = r.dataset_id
        WHERE d.project_id = p.id) AS runs,
       (SELECT coalesce(sum(l.cost_usd), 0)
        FROM evaltool.cost_ledger l
        JOIN evaltool.run r ON r.id = l.run_id
        JOIN evaltool.dataset d ON d.id = r.dataset_id
        WHERE d.project_id = p.id AND l.period >= date_trunc('month', now())) AS month_cost_usd,
       p.monthly_budget_usd
FROM evaltool.project p
WHERE %(project)s::text IS NULL OR p.name = %(project)s
ORDER BY p.name

-- project_budget --
-- Sets (NULL: removes) a project's monthly budget; returns the project's name.
UPDATE evaltool.project SET monthly_budget_usd = %(budget)s
WHERE name = %(project)s
RETURNING name
