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

\echo 'Their metrics, from evaltool.run_metric_stats (recomputed as their scores were committed);'
\echo 'demo-v2 answered each test case 5 times: its rates and intervals are over test cases'
SELECT s.run_id, m.name AS model, s.metric, s.n_cases AS cases, s.n AS scores,
       round(s.pass_rate::numeric, 3) AS pass_rate,
       round(s.pass_rate_low::numeric, 3) AS low, round(s.pass_rate_high::numeric, 3) AS high,
       round(s.mean::numeric, 3) AS mean
FROM evaltool.run_metric_stats s
JOIN evaltool.run r ON r.id = s.run_id JOIN evaltool.model m ON m.id = r.model_id
WHERE s.run_id IN (SELECT max(r.id) FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
                   WHERE m.name IN ('demo-v1', 'demo-v2') GROUP BY m.name)
ORDER BY s.metric, m.name;

\echo 'What got worse from demo-v1 to demo-v2, from evaltool.regressions()'
SELECT metric, external_id AS test_case, expected #>> '{}' AS expected,
       baseline_output AS "demo-v1", candidate_output AS "demo-v2"
FROM evaltool.regressions(
    (SELECT max(r.id) FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
     WHERE m.name = 'demo-v1'),
    (SELECT max(r.id) FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
     WHERE m.name = 'demo-v2'),
    'exact_match:all');
