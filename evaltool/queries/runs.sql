-- runs_find --
-- Runs matching a filter, newest first, with their pass rate (over every pass/fail verdict,
-- from run_metric_stats) and success rate (ok responses / responses). NULL parameters do
-- not filter. Words match as plain text: a % or _ in them is no LIKE wildcard.
-- The page is chosen first, from the run, its names and its stored statistics, and only
-- its runs are summarised over their responses (run_summary): a list costs the same
-- however long the history. A filter on what only responses say (success rate) is checked
-- on the summaries instead, and then every candidate is summarised.
WITH page AS (
    SELECT r.id, p.pass_rate
    FROM evaltool.run r
    JOIN evaltool.model m ON m.id = r.model_id
    JOIN evaltool.dataset d ON d.id = r.dataset_id
    -- as run_summary.status: a running run whose workers are gone reads interrupted
    CROSS JOIN LATERAL (
        SELECT CASE WHEN r.status = 'running'
                         AND NOT EXISTS (SELECT FROM pg_locks l
                                         WHERE l.locktype = 'advisory' AND l.granted
                                           AND l.objsubid = 2
                                           AND l.database = (SELECT oid FROM pg_database
                                                             WHERE datname = current_database())
                                           AND l.classid = hashtext('evaltool.run')::oid
                                           AND l.objid = mod(r.id, 2147483648)::oid)
                    THEN 'interrupted' ELSE r.status END AS status
    ) st
    LEFT JOIN LATERAL (
        SELECT sum(x.n_passed)::double precision / nullif(sum(x.n_judged), 0) AS pass_rate
        FROM evaltool.run_metric_stats x
        WHERE x.run_id = r.id
    ) p ON true
    WHERE (%(status)s::text IS NULL OR st.status = %(status)s)
      AND (%(model)s::text IS NULL OR m.name = %(model)s)
      AND (%(dataset)s::text IS NULL OR d.name = %(dataset)s)
      AND (%(tag)s::text IS NULL OR %(tag)s = ANY (r.tags))
      AND (%(suite)s::text IS NULL OR r.suite = %(suite)s)
      AND (%(since)s::timestamptz IS NULL OR r.created_at >= %(since)s)
      AND (%(until)s::timestamptz IS NULL OR r.created_at < %(until)s)
      AND (%(min_pass)s::float8 IS NULL OR p.pass_rate >= %(min_pass)s)
      AND (%(max_pass)s::float8 IS NULL OR p.pass_rate <= %(max_pass)s)
      AND (%(max_seconds)s::float8 IS NULL
           OR extract(epoch FROM r.finished_at - r.started_at) <= %(max_seconds)s)
      AND (%(min_seconds)s::float8 IS NULL
           OR extract(epoch FROM r.finished_at - r.started_at) >= %(min_seconds)s)
      AND (cardinality(%(words)s::text[]) = 0
           OR NOT EXISTS (SELECT FROM unnest(%(words)s::text[]) w
                          WHERE concat_ws(' ', r.name, r.notes, array_to_string(r.tags, ' '),
                                          m.name, d.name, st.status)
                                NOT ILIKE '%%' || replace(replace(replace(w, '\', '\\'),
                                                                  '%%', '\%%'), '_', '\_') || '%%'
                                          ESCAPE '\'))
    ORDER BY r.created_at DESC, r.id DESC
    LIMIT CASE WHEN %(min_success)s::float8 IS NULL AND %(max_success)s::float8 IS NULL
               THEN %(limit)s::bigint END
)
SELECT s.run_id, s.name, s.model, s.dataset, s.dataset_version, s.status, s.test_cases, s.ok,
       s.errors, s.pending, s.cost_usd, s.tags, s.created_by, s.created_at, s.duration,
       page.pass_rate, s.ok::double precision / nullif(s.ok + s.errors, 0) AS success_rate,
       s.template, s.suite
FROM page
-- OFFSET 0 keeps the planner from merging the view into the join, which would summarise
-- every run before keeping the page's
CROSS JOIN LATERAL (SELECT * FROM evaltool.run_summary v WHERE v.run_id = page.id OFFSET 0) s
WHERE (%(min_success)s::float8 IS NULL OR s.ok::float8 / nullif(s.ok + s.errors, 0) >= %(min_success)s)
  AND (%(max_success)s::float8 IS NULL OR s.ok::float8 / nullif(s.ok + s.errors, 0) <= %(max_success)s)
ORDER BY s.created_at DESC, s.run_id DESC
LIMIT %(limit)s

-- runs_latest_of_model --
-- The latest completed run of a model, for RUN given as a model name.
SELECT r.id FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
WHERE m.name = %(model)s AND r.status = 'completed'
ORDER BY r.created_at DESC, r.id DESC
LIMIT 1

-- runs_show --
-- One run in full: what was run, with what, by whom; its status as run_summary shows it (a
-- running run whose workers are gone reads interrupted).
SELECT r.id, r.name, s.status, r.model_snapshot, r.params, r.git_revision, r.created_by,
       r.tags, r.notes, r.metadata, r.created_at, r.started_at, r.finished_at
FROM evaltool.run r JOIN evaltool.run_summary s ON s.run_id = r.id
WHERE r.id = %(run_id)s

-- runs_metrics --
-- A run's live metric statistics: all its metrics, or those named in %(metrics)s.
SELECT metric, n, n_passed, pass_rate, pass_rate_low, pass_rate_high, mean, mean_low, mean_high,
       p50, p95, scorer, scorer_version, n_cases
FROM evaltool.run_metric_summary
WHERE run_id = %(run_id)s AND (%(metrics)s::text[] IS NULL OR metric = ANY(%(metrics)s))
ORDER BY metric

-- runs_delete --
-- Deletes runs with their responses and scores (ON DELETE CASCADE).
DELETE FROM evaltool.run WHERE id = ANY(%(ids)s) RETURNING id

-- runs_flaky_run --
-- The run whose flaky test cases `evaltool runs flaky` lists: its repeats, model, dataset.
SELECT r.id AS run_id, r.repeats, r.status, r.model_id, r.dataset_id, m.name AS model,
       d.name AS dataset, d.version AS dataset_version
FROM evaltool.run r
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
WHERE r.id = %(run_id)s

-- runs_flaky --
-- The flakiest test cases of a run (evaltool.flaky_case): pass share closest to 0.5 first,
-- then most samples; at most %(limit)s, with how many there are in all. A NULL metric
-- does not filter.
SELECT f.prompt_id, f.external_id, f.metric, f.samples, f.n_passed, f.n_failed, f.pass_share,
       count(*) OVER () AS total
FROM evaltool.flaky_case f
WHERE f.run_id = %(run_id)s AND (%(metric)s::text IS NULL OR f.metric = %(metric)s)
ORDER BY abs(f.pass_share - 0.5), f.samples DESC, f.external_id, f.prompt_id, f.metric
LIMIT %(limit)s

-- runs_flaky_history --
-- Test cases that passed in some completed runs of a model over a dataset and failed in
-- others of the same configuration (evaltool.flaky_case_history): the most even split
-- first, then the most runs; at most %(limit)s, with how many there are in all.
SELECT h.prompt_id, h.external_id, h.metric, h.runs, h.runs_passed, h.runs_failed,
       h.first_run_id, h.last_run_id, h.config, count(*) OVER () AS total
FROM evaltool.flaky_case_history h
WHERE h.model_id = %(model_id)s AND h.dataset_id = %(dataset_id)s
  AND (%(metric)s::text IS NULL OR h.metric = %(metric)s)
ORDER BY abs(h.runs_passed::double precision / (h.runs_passed + h.runs_failed) - 0.5),
         h.runs DESC, h.external_id, h.prompt_id, h.metric, h.config
LIMIT %(limit)s

-- runs_export_metrics --
-- The run `evaltool runs export` writes, and the metrics its responses have scores of in
-- name order: the score columns of a CSV export, read before the rows stream. No row: no
-- such run.
SELECT r.id,
       ARRAY(SELECT DISTINCT s.metric
             FROM evaltool.response x JOIN evaltool.score s ON s.run_id = x.run_id AND s.response_id = x.id
             WHERE x.run_id = r.id
             ORDER BY s.metric) AS metrics
FROM evaltool.run r
WHERE r.id = %(run_id)s

-- runs_export --
-- Every response of a run with its test case, run, model and dataset, one row per test
-- case and sample in that order (response_run_prompt_sample_key yields it: no sort, so the
-- first rows come at once); read through a server-side cursor by `evaltool runs export`.
-- Its scores are one jsonb object per response, aggregated here (LATERAL):
-- {"metric": {"value", "passed", "scorer", "details"}}, {} when it has none. With a prompt
-- template, `request` is the rendered messages sent; a cached response names its source.
SELECT r.id AS run_id, m.name AS model, d.name AS dataset, d.version AS dataset_version,
       x.id AS response_id, x.prompt_id, p.external_id, x.sample,
       p.input, p.expected, p.tags, p.metadata,
       x.status, x.output, x.output_text, x.error, x.latency_ms, x.input_tokens,
       x.output_tokens, x.cost_usd, x.attempts, x.created_at,
       t.name AS template, t.version AS template_version, x.request, x.cached_from,
       coalesce(sc.scores, '{}') AS scores
FROM evaltool.run r
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
LEFT JOIN evaltool.prompt_template t ON t.id = r.template_id
JOIN evaltool.response x ON x.run_id = r.id
JOIN evaltool.prompt p ON p.id = x.prompt_id
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(s.metric, jsonb_build_object('value', s.value, 'passed', s.passed,
                                                         'scorer', s.scorer, 'details', s.details))
           AS scores
    FROM evaltool.score s
    WHERE s.run_id = x.run_id AND s.response_id = x.id
) sc ON true
WHERE r.id = %(run_id)s
ORDER BY x.prompt_id, x.sample

-- runs_archived --
-- The first of the runs whose rows evaltool runs archive moved to a file, with the file.
SELECT a.run_id, a.file FROM evaltool.run_archived a
WHERE a.run_id = ANY (%(runs)s::bigint[])
ORDER BY a.run_id
LIMIT 1
