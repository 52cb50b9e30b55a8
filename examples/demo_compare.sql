-- The demo's two runs side by side, as a DBA would look at them in psql:
--   evaltool db psql -f examples/demo_compare.sql
\set ON_ERROR_STOP on
\pset footer off
\echo 'Runs of demo-v1 and demo-v2 (latest of each), from the evaltool.run_summary view'
SELECT run_id, model, status, test_cases, ok, errors,
       round(latency_p50_ms::numeric, 1) AS p50_ms, round(latency_p95_ms::numeric, 1) AS p95_ms,
       input_tokens, output_tokens, cost_usd
FROM evaltool.run_summary
WHERE run_id IN (SELECT max(r.id) FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
                 WHERE m.name IN ('demo-v1', 'demo-v2') GROUP BY m.name)
ORDER BY model;

\echo 'Where the two versions answer differently (expected answer first)'
WITH latest AS (
    SELECT m.name, max(r.id) AS run_id
    FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
    WHERE m.name IN ('demo-v1', 'demo-v2')
    GROUP BY m.name
)
SELECT p.external_id AS test_case, p.expected #>> '{}' AS expected,
       v1.output #>> '{}' AS "demo-v1", v2.output #>> '{}' AS "demo-v2"
FROM evaltool.prompt p
JOIN evaltool.response v1 ON v1.prompt_id = p.id
 AND v1.run_id = (SELECT run_id FROM latest WHERE name = 'demo-v1')
JOIN evaltool.response v2 ON v2.prompt_id = p.id
 AND v2.run_id = (SELECT run_id FROM latest WHERE name = 'demo-v2')
WHERE v1.output IS DISTINCT FROM v2.output
ORDER BY p.external_id;
