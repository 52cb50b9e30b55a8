-- requires: 0009_repeats
-- requires: 0011_templates_cache
-- requires: 0014_run_archive
-- evaltool.run_summary: one row per run with its counts, tokens, cost and latency; for an
-- archived run (no responses left), the summary stored when it was archived.
CREATE OR REPLACE VIEW evaltool.run_summary AS
SELECT r.id AS run_id,
       r.name,
       m.name AS model,
       d.name AS dataset,
       d.version AS dataset_version,
       -- a running run whose workers are all gone (no session holds the shared advisory
       -- lock each worker takes on its run: queries run_join) reads interrupted
       CASE WHEN r.status = 'running'
                 AND NOT EXISTS (SELECT FROM pg_locks l
                                 WHERE l.locktype = 'advisory' AND l.granted
                                   AND l.objsubid = 2
                                   AND l.database = (SELECT oid FROM pg_database
                                                     WHERE datname = current_database())
                                   AND l.classid = hashtext('evaltool.run')::oid
                                   AND l.objid = mod(r.id, 2147483648)::oid)
            THEN 'interrupted' ELSE r.status
       END AS status,
       -- with repeats, the distinct test cases among responses and queue (a scalar
       -- subquery in a CASE runs only where it is reached)
       coalesce(a.test_cases,
                CASE WHEN r.repeats = 1 THEN coalesce(s.responses, 0) + coalesce(t.pending, 0)
                     ELSE (SELECT count(*) FROM (SELECT x.prompt_id FROM evaltool.response x
                                                 WHERE x.run_id = r.id
                                                 UNION
                                                 SELECT k.prompt_id FROM evaltool.run_task k
                                                 WHERE k.run_id = r.id) u)
                END) AS test_cases,
       coalesce(a.ok, s.ok, 0) AS ok,
       coalesce(a.errors, s.errors, 0) AS errors,
       coalesce(t.pending, 0) AS pending,
       CASE WHEN a.run_id IS NULL THEN s.input_tokens ELSE a.input_tokens END AS input_tokens,
       CASE WHEN a.run_id IS NULL THEN s.output_tokens ELSE a.output_tokens END AS output_tokens,
       CASE WHEN a.run_id IS NULL THEN s.cost_usd ELSE a.cost_usd END AS cost_usd,
       CASE WHEN a.run_id IS NULL THEN s.latency_p50_ms ELSE a.latency_p50_ms END
           AS latency_p50_ms,
       CASE WHEN a.run_id IS NULL THEN s.latency_p95_ms ELSE a.latency_p95_ms END
           AS latency_p95_ms,
       r.tags,
       r.created_by,
       r.created_at,
       r.started_at,
       r.finished_at,
       r.finished_at - r.started_at AS duration,
       r.repeats,
       pt.name || ':' || pt.version AS template,
       coalesce(a.cached, s.cached, 0) AS cached,
       r.suite,
       a.archived_at
FROM evaltool.run r
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
LEFT JOIN evaltool.prompt_template pt ON pt.id = r.template_id
LEFT JOIN evaltool.run_archived a ON a.run_id = r.id
LEFT JOIN LATERAL (
    SELECT count(*) AS responses,
           count(*) FILTER (WHERE x.status = 'ok') AS ok,
           count(*) FILTER (WHERE x.status = 'error') AS errors,
           count(*) FILTER (WHERE x.cached_from IS NOT NULL) AS cached,
           sum(x.input_tokens) AS input_tokens,
           sum(x.output_tokens) AS output_tokens,
           sum(x.cost_usd) AS cost_usd,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY x.latency_ms)
               FILTER (WHERE x.status = 'ok') AS latency_p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY x.latency_ms)
               FILTER (WHERE x.status = 'ok') AS latency_p95_ms
    FROM evaltool.response x
    WHERE x.run_id = r.id
) s ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS pending FROM evaltool.run_task k WHERE k.run_id = r.id
) t ON true;

COMMENT ON VIEW evaltool.run_summary IS
    'One row per run: test cases, ok and error responses, pending calls, tokens, cost and latency percentiles of ok responses. With repeats, responses and pending count samples.';
COMMENT ON COLUMN evaltool.run_summary.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.run_summary.name IS 'Run name, if given.';
COMMENT ON COLUMN evaltool.run_summary.model IS 'Registry name of the model.';
COMMENT ON COLUMN evaltool.run_summary.dataset IS 'Dataset name.';
COMMENT ON COLUMN evaltool.run_summary.dataset_version IS 'Dataset version.';
COMMENT ON COLUMN evaltool.run_summary.status IS 'Run status: pending, running, completed, failed or interrupted; a run marked running whose workers are all gone (killed, or their database session ended) reads interrupted.';
COMMENT ON COLUMN evaltool.run_summary.test_cases IS 'Test cases of the run: answered plus pending (each counted once, whatever its samples).';
COMMENT ON COLUMN evaltool.run_summary.ok IS 'Responses with status ok.';
COMMENT ON COLUMN evaltool.run_summary.errors IS 'Responses with status error (calls that failed after retries).';
COMMENT ON COLUMN evaltool.run_summary.pending IS 'Calls still queued (test cases, or their samples, not answered yet).';
COMMENT ON COLUMN evaltool.run_summary.input_tokens IS 'Input tokens over all responses (some may be estimates).';
COMMENT ON COLUMN evaltool.run_summary.output_tokens IS 'Output tokens over all responses (some may be estimates).';
COMMENT ON COLUMN evaltool.run_summary.cost_usd IS 'Cost in USD over all responses, at the prices in force at each call.';
COMMENT ON COLUMN evaltool.run_summary.latency_p50_ms IS 'Median latency of ok responses, in milliseconds.';
COMMENT ON COLUMN evaltool.run_summary.latency_p95_ms IS '95th percentile latency of ok responses, in milliseconds.';
COMMENT ON COLUMN evaltool.run_summary.tags IS 'Run tags.';
COMMENT ON COLUMN evaltool.run_summary.created_by IS 'Who created the run.';
COMMENT ON COLUMN evaltool.run_summary.created_at IS 'When the run was created.';
COMMENT ON COLUMN evaltool.run_summary.started_at IS 'When the first worker started.';
COMMENT ON COLUMN evaltool.run_summary.finished_at IS 'When the run completed, failed or was interrupted.';
COMMENT ON COLUMN evaltool.run_summary.duration IS 'finished_at - started_at.';
COMMENT ON COLUMN evaltool.run_summary.repeats IS 'Samples asked per test case (1 unless the run was repeated).';
COMMENT ON COLUMN evaltool.run_summary.template IS 'Prompt template of the run as name:version; NULL when inputs were sent as they are.';
COMMENT ON COLUMN evaltool.run_summary.cached IS 'Responses reused from the response cache (no call made, cost zero).';
COMMENT ON COLUMN evaltool.run_summary.suite IS 'Suite the run was made by (evaltool eval), if any.';
COMMENT ON COLUMN evaltool.run_summary.archived_at IS 'When the run''s responses were archived (evaltool runs archive): its counts, tokens, cost and latency are those stored then. NULL for a run whose rows are here.';
