-- run_create --
-- A new pending run of a model over a dataset, with a snapshot of the model (and its price
-- and parameters in force now) taken at creation, so workers call what was asked for even
-- when the registry changes later.
-- The configuration hash (the response cache's) is taken from the same snapshot. "Now" is
-- the clock, not the transaction's start: changes of price and parameters are stamped by
-- the clock, and one made earlier in the same transaction (a suite registering its models,
-- then running them) must be in force for this run.
INSERT INTO evaltool.run (model_id, dataset_id, name, status, model_snapshot, params,
                          git_revision, created_by, tags, notes, metadata, repeats,
                          template_id, suite, config_hash, max_cost_usd)
SELECT m.id, %(dataset_id)s, %(name)s, 'pending', s.snapshot, s.params, %(git_revision)s,
       coalesce(nullif(current_setting('evaltool.actor', true), ''), current_user),
       %(tags)s, %(notes)s, %(metadata)s, %(repeats)s, %(template_id)s, %(suite)s,
       evaltool.model_config_hash(s.snapshot, s.params), %(max_cost)s
FROM evaltool.model m
CROSS JOIN (SELECT clock_timestamp() AS at) c
CROSS JOIN LATERAL (SELECT evaltool.model_snapshot(m.id, c.at) AS snapshot,
                           evaltool.model_params_at(m.id, c.at) AS params) s
WHERE m.name = %(model)s
RETURNING id

-- run_queue --
-- Queues the dataset's live test cases for a new run, each %(repeats)s times (its
-- samples): all of them, the first %(limit)s by id, or %(limit)s sampled by a seeded hash
-- order (the same sample on every machine).
INSERT INTO evaltool.run_task (run_id, prompt_id, sample)
SELECT %(run_id)s, c.id, k.sample
FROM (SELECT p.id
      FROM evaltool.prompt p
      WHERE p.dataset_id = %(dataset_id)s AND p.deleted_at IS NULL
      ORDER BY CASE WHEN %(seed)s::text IS NOT NULL
                    THEN md5(%(seed)s::text || encode(p.prompt_hash, 'hex')) END,
               p.id
      LIMIT %(limit)s) c
CROSS JOIN generate_series(1, %(repeats)s) AS k(sample)
ORDER BY c.id, k.sample

-- run_queue_analyze --
-- Fresh statistics of the queue after a large run is queued: without them the planner
-- takes the new run for a few rows, and every claim sorted the whole queue (77 ms a claim
-- at 200,000 cases, instead of walking the primary key to the next free rows).
ANALYZE evaltool.run_task

-- run_for_work --
-- What a worker needs to know of a run.
SELECT r.id, r.model_id, r.model_snapshot, r.params, m.name AS model,
       d.name AS dataset, d.version AS dataset_version, r.repeats,
       (SELECT count(*) FROM evaltool.run_task t WHERE t.run_id = r.id) AS pending,
       r.template_id
FROM evaltool.run r
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
WHERE r.id = %(run_id)s

-- run_requeue_errors --
-- Queues again the samples whose response is an error (for --retry-errors).
INSERT INTO evaltool.run_task (run_id, prompt_id, sample)
SELECT run_id, prompt_id, sample FROM evaltool.response
WHERE run_id = %(run_id)s AND status = 'error'
ON CONFLICT (run_id, prompt_id, sample) DO NOTHING

-- worker_lock --
-- Takes the session-level advisory lock that says this worker is alive, keyed by a random
-- number that ends its id; false when a live worker drew the same number. The lock goes
-- with the session (commits keep it), so it needs a connection of its own: not PgBouncer's
-- transaction pooling, where temp tables (result_stage) fail as well.
SELECT pg_try_advisory_lock(hashtext('evaltool.worker'), %(key)s)

-- run_join --
-- Takes a shared session-level advisory lock on the run: a running run no session holds
-- it for has no live worker, and run_summary shows it interrupted.
SELECT pg_advisory_lock_shared(hashtext('evaltool.run'), mod(%(run_id)s::bigint, 2147483648)::integer)

-- run_start --
-- Marks the run running (the first worker sets started_at).
UPDATE evaltool.run
SET status = 'running', started_at = coalesce(started_at, now()), finished_at = NULL
WHERE id = %(run_id)s AND status <> 'running'

-- run_complete --
-- Marks the run completed once nothing is left in its queue; any worker may be the last.
UPDATE evaltool.run
SET status = 'completed', finished_at = now()
WHERE id = %(run_id)s AND status <> 'completed'
  AND NOT EXISTS (SELECT FROM evaltool.run_task WHERE run_id = %(run_id)s)

-- run_stop --
-- Marks the run interrupted, failed or budget_exceeded, unless another worker still holds
-- live leases on it.
UPDATE evaltool.run
SET status = %(status)s, finished_at = greatest(now(), started_at),
    metadata = CASE WHEN %(error)s::text IS NULL THEN metadata
                    ELSE metadata || jsonb_build_object('error', %(error)s::text) END
WHERE id = %(run_id)s AND status = 'running'
  AND NOT EXISTS (SELECT FROM evaltool.run_task
                  WHERE run_id = %(run_id)s AND lease_expires_at > now())

-- run_budgeted --
-- Whether the run's spending is limited: by its own --max-cost, or its project's monthly
-- budget (then workers check the spend before each claim).
SELECT r.max_cost_usd IS NOT NULL OR pr.monthly_budget_usd IS NOT NULL
FROM evaltool.run r
JOIN evaltool.dataset d ON d.id = r.dataset_id
JOIN evaltool.project pr ON pr.id = d.project_id
WHERE r.id = %(run_id)s

-- run_budget --
-- Whether the run may claim more work: why not (its calls have cost its --max-cost, or its
-- project's calls this month, in the session's time zone, its monthly budget), else what
-- is left of the tighter limit, what a call of the run has cost on average, and how many
-- of its test cases are leased now (under way at some worker), so that a worker claims no
-- more than the rest pays for. Spend is from the cost ledger, which every written response
-- updates.
SELECT CASE
           WHEN s.run_spent >= r.max_cost_usd
               THEN format('run %%s has cost $%%s, its --max-cost is $%%s', r.id,
                           trim_scale(round(s.run_spent, 4)), trim_scale(r.max_cost_usd))
           WHEN s.project_spent >= pr.monthly_budget_usd
               THEN format('project %%s has spent $%%s this month, its monthly budget is $%%s',
                           pr.name, trim_scale(round(s.project_spent, 2)),
                           trim_scale(pr.monthly_budget_usd))
       END AS reason,
       least(r.max_cost_usd - s.run_spent, pr.monthly_budget_usd - s.project_spent) AS left_usd,
       s.run_spent / nullif(s.run_calls, 0) AS per_call_usd,
       (SELECT count(*) FROM evaltool.run_task t
        WHERE t.run_id = r.id AND t.lease_expires_at > now()) AS leased
FROM evaltool.run r
JOIN evaltool.dataset d ON d.id = r.dataset_id
JOIN evaltool.project pr ON pr.id = d.project_id
CROSS JOIN LATERAL (
    SELECT coalesce(sum(l.cost_usd), 0) AS run_spent, sum(l.calls) AS run_calls
    FROM evaltool.cost_ledger l
    WHERE l.run_id = r.id
) own
CROSS JOIN LATERAL (
    SELECT own.run_spent, own.run_calls,
           CASE WHEN pr.monthly_budget_usd IS NOT NULL THEN
               (SELECT coalesce(sum(l.cost_usd), 0)
                FROM evaltool.cost_ledger l
                JOIN evaltool.run pr_run ON pr_run.id = l.run_id
                JOIN evaltool.dataset pr_d ON pr_d.id = pr_run.dataset_id
                WHERE pr_d.project_id = pr.id AND l.period >= date_trunc('month', now()))
           END AS project_spent
) s
WHERE r.id = %(run_id)s

-- run_max_cost --
-- Sets (or raises) a run's --max-cost, to resume it after the limit was reached.
UPDATE evaltool.run SET max_cost_usd = %(max_cost)s WHERE id = %(run_id)s

-- task_claim --
-- Leases up to %(n)s free samples of the run's test cases (never leased, or their lease
-- expired), skipping rows another worker is claiming at this moment. The scan starts
-- after the last sample this worker claimed (%(after_prompt)s, %(after_sample)s), not at
-- the queue's head: the rows already answered are deleted, and until vacuum has passed
-- their index entries would be stepped over by every claim, so the last claims of a long
-- run would read most of the queue. A worker that finds nothing ahead starts again from
-- the head (0, 0), for leases that expired behind it.
WITH picked AS (
    SELECT prompt_id, sample FROM evaltool.run_task
    WHERE run_id = %(run_id)s AND (prompt_id, sample) > (%(after_prompt)s, %(after_sample)s)
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY prompt_id, sample
    LIMIT %(n)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE evaltool.run_task t
    SET leased_by = %(worker)s,
        lease_expires_at = now() + make_interval(secs => %(lease_s)s),
        claims = t.claims + 1
    FROM picked
    WHERE t.run_id = %(run_id)s AND t.prompt_id = picked.prompt_id
      AND t.sample = picked.sample
    RETURNING t.prompt_id, t.sample
)
SELECT c.prompt_id, c.sample, p.input::text,
       -- what a template renders from, when the run has one
       CASE WHEN %(with_case)s THEN
           jsonb_build_object('input', p.input, 'expected', p.expected, 'metadata', p.metadata,
                              'tags', to_jsonb(p.tags), 'external_id', p.external_id)::text
       END
FROM claimed c
JOIN evaltool.prompt p ON p.id = c.prompt_id
ORDER BY c.prompt_id, c.sample

-- task_renew --
-- Extends this worker's leases. A worker that stops renewing them (hung, or of an older
-- version that task_release_dead cannot judge) loses them when they expire.
UPDATE evaltool.run_task
SET lease_expires_at = now() + make_interval(secs => %(lease_s)s)
WHERE run_id = %(run_id)s AND leased_by = %(worker)s

-- task_release --
-- Gives back the leases of one worker (this one, on interrupt).
UPDATE evaltool.run_task
SET leased_by = NULL, lease_expires_at = NULL
WHERE run_id = %(run_id)s AND leased_by = %(worker)s

-- task_state --
-- Test cases (or their samples) left in the run's queue.
SELECT count(*) AS pending FROM evaltool.run_task WHERE run_id = %(run_id)s

-- task_release_dead --
-- Gives back the live leases of the run's dead workers, without waiting for them to
-- expire. A worker is alive while its database session holds its advisory lock
-- (worker_lock), whose key ends its id (host:pid:lock-KEY): a killed process, a closed
-- connection or a terminated backend frees it at once, and another worker of the same
-- host name and process id (containers) does not pass for it. The leases of ids without a
-- key (workers of older versions) are left to expire.
WITH live AS MATERIALIZED (
    SELECT l.objid::bigint AS key FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = hashtext('evaltool.worker')::oid
)
UPDATE evaltool.run_task t
SET leased_by = NULL, lease_expires_at = NULL
WHERE t.run_id = %(run_id)s AND t.lease_expires_at > now()
  AND t.leased_by ~ ':lock-[0-9]{1,18}$'
  AND substring(t.leased_by FROM ':lock-([0-9]+)$')::bigint NOT IN (SELECT key FROM live)

-- result_stage --
-- Where a worker's finished calls wait for the next flush (emptied by each commit).
CREATE TEMP TABLE IF NOT EXISTS evaltool_result (
    prompt_id        bigint NOT NULL,
    sample           integer NOT NULL,
    status           text NOT NULL,
    output           jsonb,
    output_text      text,
    error            text,
    latency_ms       double precision,
    input_tokens     bigint,
    output_tokens    bigint,
    tokens_estimated boolean NOT NULL,
    attempts         integer NOT NULL,
    metadata         jsonb NOT NULL,
    started_at       timestamptz NOT NULL,
    request          jsonb,
    first_token_ms   double precision
) ON COMMIT DELETE ROWS

-- result_copy --
-- Finished calls into result_stage; {columns} are the fields of evaltool.runner.Response,
-- named by the worker (psycopg.sql.Identifier), so the values cannot go to the wrong column.
COPY pg_temp.evaltool_result ({columns}) FROM STDIN

-- result_write --
-- Writes the staged results whose lease this worker still holds, and takes them off the
-- queue in the same statement; a result whose lease another worker took over is dropped,
-- so each sample of a test case is answered once. An earlier error response is replaced (resume with
-- --retry-errors), an ok response never. Cost is computed at the price in force when the
-- call started. An answer gets its response cache key, from the rendered request or, when
-- the run has no template, the test case's input. A streamed answer keeps its time to first
-- token.
WITH mine AS (
    DELETE FROM evaltool.run_task t
    USING pg_temp.evaltool_result r
    WHERE t.run_id = %(run_id)s AND t.prompt_id = r.prompt_id AND t.sample = r.sample
      AND t.leased_by = %(worker)s
    RETURNING t.prompt_id, t.sample
)
INSERT INTO evaltool.response AS old
    (run_id, prompt_id, sample, status, output, output_text, error, latency_ms, input_tokens,
     output_tokens, tokens_estimated, cost_usd, attempts, metadata, started_at, request,
     cache_key, first_token_ms)
SELECT %(run_id)s, r.prompt_id, r.sample, r.status, r.output, r.output_text, r.error, r.latency_ms,
       r.input_tokens, r.output_tokens, r.tokens_estimated,
       evaltool.call_cost_usd(%(model_id)s, r.started_at, r.input_tokens, r.output_tokens),
       r.attempts, r.metadata, r.started_at, r.request,
       CASE WHEN r.status = 'ok' THEN
           evaltool.response_cache_key(run.config_hash, coalesce(r.request, p.input), r.sample)
       END,
       r.first_token_ms
FROM pg_temp.evaltool_result r
JOIN mine USING (prompt_id, sample)
JOIN evaltool.prompt p ON p.id = r.prompt_id
CROSS JOIN (SELECT config_hash FROM evaltool.run WHERE id = %(run_id)s) run
ON CONFLICT (run_id, prompt_id, sample) DO UPDATE
SET status = excluded.status, output = excluded.output, output_text = excluded.output_text,
    error = excluded.error, latency_ms = excluded.latency_ms,
    input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
    tokens_estimated = excluded.tokens_estimated, cost_usd = excluded.cost_usd,
    attempts = old.attempts + excluded.attempts, metadata = excluded.metadata,
    started_at = excluded.started_at, request = excluded.request,
    cache_key = excluded.cache_key, cached_from = NULL, first_token_ms = excluded.first_token_ms
WHERE old.status = 'error'
RETURNING status = 'ok'

-- cache_take --
-- Answers claimed samples from the response cache: for each request (NULL: the test
-- case's input) an earlier answer with the same key (same model configuration, request and
-- sample), from any run of any user, is stored as this run's response, naming its source,
-- with the source's output, latency and tokens and a cost of zero; the samples it answers
-- leave the queue in the same statement. Returns the samples answered.
WITH asked AS (
    SELECT a.prompt_id, a.sample, a.request::jsonb AS request
    FROM unnest(%(prompt_ids)s::bigint[], %(samples)s::integer[], %(requests)s::text[])
         AS a(prompt_id, sample, request)
), keyed AS (
    SELECT a.prompt_id, a.sample, a.request,
           evaltool.response_cache_key(run.config_hash, coalesce(a.request, p.input), a.sample)
               AS cache_key
    FROM asked a
    JOIN evaltool.prompt p ON p.id = a.prompt_id
    CROSS JOIN (SELECT config_hash FROM evaltool.run WHERE id = %(run_id)s) run
), hit AS (
    SELECT DISTINCT ON (k.prompt_id, k.sample)
           k.prompt_id, k.sample, k.request, k.cache_key, coalesce(s.cached_from, s.id) AS source,
           s.output, s.output_text, s.latency_ms, s.input_tokens, s.output_tokens,
           s.tokens_estimated, s.metadata
    FROM keyed k
    JOIN evaltool.response s ON s.cache_key = k.cache_key AND s.status = 'ok'
    WHERE s.run_id <> %(run_id)s
    ORDER BY k.prompt_id, k.sample, s.id
), mine AS (
    DELETE FROM evaltool.run_task t
    USING hit h
    WHERE t.run_id = %(run_id)s AND t.prompt_id = h.prompt_id AND t.sample = h.sample
      AND t.leased_by = %(worker)s
    RETURNING t.prompt_id, t.sample
)
INSERT INTO evaltool.response AS old
    (run_id, prompt_id, sample, status, output, output_text, latency_ms, input_tokens,
     output_tokens, tokens_estimated, cost_usd, attempts, metadata, started_at, request,
     cache_key, cached_from)
SELECT %(run_id)s, h.prompt_id, h.sample, 'ok', h.output, h.output_text, h.latency_ms,
       h.input_tokens, h.output_tokens, h.tokens_estimated, 0, 1, h.metadata, now(), h.request,
       h.cache_key, h.source
FROM hit h
JOIN mine USING (prompt_id, sample)
ON CONFLICT (run_id, prompt_id, sample) DO UPDATE
SET status = 'ok', output = excluded.output, output_text = excluded.output_text, error = NULL,
    latency_ms = excluded.latency_ms, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, tokens_estimated = excluded.tokens_estimated,
    cost_usd = 0, attempts = old.attempts + 1, metadata = excluded.metadata,
    started_at = excluded.started_at, request = excluded.request,
    cache_key = excluded.cache_key, cached_from = excluded.cached_from
WHERE old.status = 'error'
RETURNING prompt_id, sample

-- run_summary --
-- The run's totals, from the run_summary view.
SELECT * FROM evaltool.run_summary WHERE run_id = %(run_id)s

-- run_error_groups --
-- The run's errors grouped by their first line, most frequent first (run_error_summary).
SELECT error, responses FROM evaltool.run_error_summary
WHERE run_id = %(run_id)s
ORDER BY responses DESC, error
LIMIT %(limit)s

-- run_connection_refresh --
-- Before a resume: the run's snapshot takes the model's connection settings as they are
-- now (a base URL fixed since, a proxy); its model id and parameters stay the run's.
-- Returns the settings and whether they changed.
WITH old AS (SELECT model_snapshot -> 'config' AS config FROM evaltool.run WHERE id = %(run_id)s)
UPDATE evaltool.run r
SET model_snapshot = jsonb_set(r.model_snapshot, '{config}', m.config)
FROM evaltool.model m
WHERE r.id = %(run_id)s AND m.id = r.model_id
RETURNING m.config, (SELECT coalesce(config, '{}') FROM old) IS DISTINCT FROM m.config
