-- 0013_partition_by_run: response, score and score_history, the tables that grow with every
-- run, are partitioned by run id (declarative RANGE partitioning, PostgreSQL 14+, no
-- extension), so that old runs can be archived by detaching whole partitions, and per-run
-- work reads only the partitions of its runs. Every key of these tables now leads with
-- run_id: PostgreSQL requires the partition key in every unique constraint, and it is also
-- the distribution column should the tables move to Citus (docs/scaling.md).
--
-- score and score_history gain run_id (the run of their response), and reference their
-- response by (run_id, response_id); score's primary key is (run_id, response_id, metric). A preference names the runs of its two responses.
-- response.cached_from is no longer a foreign key: a cache hit copies what it reuses, and
-- its source may be archived.
--
-- A partition holds a range of run ids; evaltool.ensure_run_partitions (sql/) adds the
-- next range when a run is created past the last one, and evaltool.run_partition lists the
-- ranges. Existing rows are copied into one partition covering every run so far.
-- The views and functions of sql/ that read the old tables are dropped with them and
-- re-created from sql/ after the migration.
-- depends: 0012_run_metric_stats

-- The old tables step aside, with their index names (unique in the schema) and sequences.
ALTER TABLE evaltool.response RENAME TO response_old;
ALTER TABLE evaltool.score RENAME TO score_old;
ALTER TABLE evaltool.score_history RENAME TO score_history_old;
ALTER INDEX evaltool.response_pkey RENAME TO response_old_pkey;
ALTER INDEX evaltool.response_run_prompt_sample_key RENAME TO response_old_run_prompt_sample_key;
ALTER INDEX evaltool.response_prompt_id_idx RENAME TO response_old_prompt_id_idx;
ALTER INDEX evaltool.response_cache_key_idx RENAME TO response_old_cache_key_idx;
ALTER INDEX evaltool.response_cached_from_idx RENAME TO response_old_cached_from_idx;
ALTER INDEX evaltool.score_pkey RENAME TO score_old_pkey;
ALTER INDEX evaltool.score_response_metric_key RENAME TO score_old_response_metric_key;
ALTER INDEX evaltool.score_history_pkey RENAME TO score_history_old_pkey;
ALTER INDEX evaltool.score_history_response_id_idx RENAME TO score_history_old_response_id_idx;
ALTER INDEX evaltool.score_history_scoring_id_idx RENAME TO score_history_old_scoring_id_idx;
ALTER SEQUENCE evaltool.response_id_seq RENAME TO response_old_id_seq;
ALTER SEQUENCE evaltool.score_id_seq RENAME TO score_old_id_seq;
ALTER SEQUENCE evaltool.score_history_id_seq RENAME TO score_history_old_id_seq;

CREATE TABLE evaltool.run_partition (
    run_from   bigint PRIMARY KEY,
    run_to     bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT run_partition_range CHECK (run_to > run_from)
);

CREATE TABLE evaltool.response (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    run_id           bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    prompt_id        bigint NOT NULL REFERENCES evaltool.prompt (id) ON DELETE RESTRICT,
    status           text NOT NULL CHECK (status IN ('ok', 'error')),
    output           jsonb,
    output_text      text,
    error            text,
    latency_ms       double precision CHECK (latency_ms >= 0 AND latency_ms < 'Infinity'),
    input_tokens     integer CHECK (input_tokens >= 0),
    output_tokens    integer CHECK (output_tokens >= 0),
    tokens_estimated boolean NOT NULL DEFAULT false,
    cost_usd         numeric(18, 8) CHECK (cost_usd >= 0),
    attempts         integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    metadata         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    started_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sample           integer NOT NULL DEFAULT 1 CHECK (sample >= 1),
    request          jsonb,
    cache_key        bytea CHECK (octet_length(cache_key) = 32),
    cached_from      bigint,
    CONSTRAINT response_pkey PRIMARY KEY (run_id, id),
    CONSTRAINT response_run_prompt_sample_key UNIQUE (run_id, prompt_id, sample),
    CONSTRAINT response_error_has_message CHECK (status <> 'error' OR error IS NOT NULL)
) PARTITION BY RANGE (run_id);
-- A response by its id alone (a preference, score history, the API): one probe per partition.
CREATE INDEX response_id_idx ON evaltool.response (id);
CREATE INDEX response_prompt_id_idx ON evaltool.response (prompt_id);
CREATE INDEX response_cache_key_idx ON evaltool.response (cache_key)
    WHERE status = 'ok' AND cache_key IS NOT NULL;
CREATE INDEX response_cached_from_idx ON evaltool.response (cached_from)
    WHERE cached_from IS NOT NULL;

CREATE TABLE evaltool.score (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    run_id         bigint NOT NULL,
    response_id    bigint NOT NULL,
    metric         text NOT NULL CHECK (metric <> ''),
    value          double precision
                   CHECK (value NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)),
    passed         boolean,
    details        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    scorer         text NOT NULL CHECK (scorer <> ''),
    scorer_version text NOT NULL DEFAULT '1',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    scoring_id     bigint,
    -- one score per response and metric; the id is an identity, not a key: a second
    -- index led by run_id lured the planner into probing it for a response's scores
    CONSTRAINT score_pkey PRIMARY KEY (run_id, response_id, metric),
    CONSTRAINT score_response_fkey FOREIGN KEY (run_id, response_id)
        REFERENCES evaltool.response (run_id, id) ON DELETE CASCADE,
    CONSTRAINT score_has_result CHECK (value IS NOT NULL OR passed IS NOT NULL)
) PARTITION BY RANGE (run_id);

CREATE TABLE evaltool.score_history (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    run_id         bigint NOT NULL,
    score_id       bigint NOT NULL,
    response_id    bigint NOT NULL,
    scoring_id     bigint,
    metric         text NOT NULL,
    value          double precision,
    passed         boolean,
    details        jsonb NOT NULL,
    scorer         text NOT NULL,
    scorer_version text NOT NULL,
    created_at     timestamptz NOT NULL,
    superseded_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT score_history_pkey PRIMARY KEY (run_id, id),
    CONSTRAINT score_history_response_fkey FOREIGN KEY (run_id, response_id)
        REFERENCES evaltool.response (run_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (run_id);
CREATE INDEX score_history_scoring_id_idx ON evaltool.score_history (scoring_id);
CREATE INDEX score_history_response_id_idx ON evaltool.score_history (run_id, response_id);

-- One partition for the runs so far, and room for the next ones.
DO $$
DECLARE
    upto bigint := coalesce((SELECT max(id) FROM evaltool.run), 0) + 100;
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['response', 'score', 'score_history'] LOOP
        EXECUTE format('CREATE TABLE evaltool.%I PARTITION OF evaltool.%I '
                       'FOR VALUES FROM (1) TO (%s)', t || '_1', t, upto + 1);
    END LOOP;
    INSERT INTO evaltool.run_partition (run_from, run_to) VALUES (1, upto + 1);
END
$$;

INSERT INTO evaltool.response OVERRIDING SYSTEM VALUE
SELECT id, run_id, prompt_id, status, output, output_text, error, latency_ms, input_tokens,
       output_tokens, tokens_estimated, cost_usd, attempts, metadata, started_at, created_at,
       updated_at, sample, request, cache_key, cached_from
FROM evaltool.response_old;

INSERT INTO evaltool.score OVERRIDING SYSTEM VALUE
SELECT s.id, r.run_id, s.response_id, s.metric, s.value, s.passed, s.details, s.scorer,
       s.scorer_version, s.created_at, s.updated_at, s.scoring_id
FROM evaltool.score_old s
JOIN evaltool.response_old r ON r.id = s.response_id;

INSERT INTO evaltool.score_history OVERRIDING SYSTEM VALUE
SELECT h.id, r.run_id, h.score_id, h.response_id, h.scoring_id, h.metric, h.value, h.passed,
       h.details, h.scorer, h.scorer_version, h.created_at, h.superseded_at
FROM evaltool.score_history_old h
JOIN evaltool.response_old r ON r.id = h.response_id;

DO $$
BEGIN
    PERFORM setval(pg_get_serial_sequence('evaltool.response', 'id'),
                   greatest(coalesce((SELECT max(id) FROM evaltool.response), 0),
                            (SELECT last_value FROM evaltool.response_old_id_seq)));
    PERFORM setval(pg_get_serial_sequence('evaltool.score', 'id'),
                   greatest(coalesce((SELECT max(id) FROM evaltool.score), 0),
                            (SELECT last_value FROM evaltool.score_old_id_seq)));
    PERFORM setval(pg_get_serial_sequence('evaltool.score_history', 'id'),
                   greatest(coalesce((SELECT max(id) FROM evaltool.score_history), 0),
                            (SELECT last_value FROM evaltool.score_history_old_id_seq)));
END
$$;

-- A preference names the runs of its responses, to reference them by their keys.
ALTER TABLE evaltool.preference
    DROP CONSTRAINT preference_response_a_id_fkey,
    DROP CONSTRAINT preference_response_b_id_fkey,
    ADD COLUMN run_a_id bigint,
    ADD COLUMN run_b_id bigint;
UPDATE evaltool.preference p
SET run_a_id = a.run_id, run_b_id = b.run_id
FROM evaltool.response a, evaltool.response b
WHERE a.id = p.response_a_id AND b.id = p.response_b_id;
ALTER TABLE evaltool.preference
    ALTER COLUMN run_a_id SET NOT NULL,
    ALTER COLUMN run_b_id SET NOT NULL,
    ADD CONSTRAINT preference_response_a_fkey FOREIGN KEY (run_a_id, response_a_id)
        REFERENCES evaltool.response (run_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT preference_response_b_fkey FOREIGN KEY (run_b_id, response_b_id)
        REFERENCES evaltool.response (run_id, id) ON DELETE CASCADE;
CREATE INDEX preference_run_a_idx ON evaltool.preference (run_a_id, response_a_id);
CREATE INDEX preference_run_b_idx ON evaltool.preference (run_b_id, response_b_id);
DROP INDEX evaltool.preference_response_a_id_idx;
DROP INDEX evaltool.preference_response_b_id_idx;

DROP TABLE evaltool.score_history_old, evaltool.score_old, evaltool.response_old CASCADE;

COMMENT ON TABLE evaltool.run_partition IS 'The ranges of run ids into which response, score and score_history are partitioned (partitions named TABLE_FROM): evaltool.ensure_run_partitions adds one when a run is created past the last range; evaltool runs archive detaches whole ranges of archived runs.';
COMMENT ON COLUMN evaltool.run_partition.run_from IS 'First run id of the range.';
COMMENT ON COLUMN evaltool.run_partition.run_to IS 'First run id after the range (exclusive bound).';
COMMENT ON COLUMN evaltool.run_partition.created_at IS 'When the range''s partitions were created.';
COMMENT ON TABLE evaltool.response IS 'The result of one model call: one per (run, test case, sample), with output, tokens, latency, cost and error. Partitioned by run_id (see run_partition).';
COMMENT ON COLUMN evaltool.response.id IS 'Surrogate key (identity); with run_id the primary key, as a partitioned table''s keys include its partition key.';
COMMENT ON COLUMN evaltool.response.run_id IS 'Run the response belongs to; the partition key.';
COMMENT ON COLUMN evaltool.response.prompt_id IS 'Test case that was answered.';
COMMENT ON COLUMN evaltool.response.status IS 'ok, or error when the call failed after its retries.';
COMMENT ON COLUMN evaltool.response.output IS 'Model output as JSON (a string for text models).';
COMMENT ON COLUMN evaltool.response.output_text IS 'Output as plain text, for text scorers and search.';
COMMENT ON COLUMN evaltool.response.error IS 'Error message when status is error.';
COMMENT ON COLUMN evaltool.response.latency_ms IS 'Wall-clock time of the successful (or last) attempt, in milliseconds.';
COMMENT ON COLUMN evaltool.response.input_tokens IS 'Input tokens, from the API usage or estimated.';
COMMENT ON COLUMN evaltool.response.output_tokens IS 'Output tokens, from the API usage or estimated.';
COMMENT ON COLUMN evaltool.response.tokens_estimated IS 'True when token counts were estimated rather than reported by the API.';
COMMENT ON COLUMN evaltool.response.cost_usd IS 'Cost in USD at the price in force at the time of the call.';
COMMENT ON COLUMN evaltool.response.attempts IS 'Number of calls made, retries included.';
COMMENT ON COLUMN evaltool.response.metadata IS 'Raw provider metadata (finish reason, request id, ...).';
COMMENT ON COLUMN evaltool.response.started_at IS 'When the first attempt started.';
COMMENT ON COLUMN evaltool.response.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.response.updated_at IS 'When the row last changed; set by trigger.';
COMMENT ON COLUMN evaltool.response.sample IS 'Which of the run''s samples of the test case this is, 1 to run.repeats.';
COMMENT ON COLUMN evaltool.response.request IS 'The rendered request (chat messages) when the run has a template; NULL when the test case''s input was sent as it is.';
COMMENT ON COLUMN evaltool.response.cache_key IS 'Response cache key: SHA-256 of run.config_hash, the request and the sample (evaltool.response_cache_key); NULL for loaded responses.';
COMMENT ON COLUMN evaltool.response.cached_from IS 'The id of the response this one was reused from (a cache hit: no call was made, its cost is zero); NULL for a call. Not a foreign key: the source may have been archived or deleted since.';
COMMENT ON TABLE evaltool.score IS 'The current score of one response on one metric: exactly one per (response, metric). Scores it replaced are kept in score_history. Partitioned by run_id, as its response.';
COMMENT ON COLUMN evaltool.score.id IS 'Identity: unique as its sequence makes it, and what score_history.score_id names; the primary key is (run_id, response_id, metric).';
COMMENT ON COLUMN evaltool.score.response_id IS 'Response that was scored.';
COMMENT ON COLUMN evaltool.score.metric IS 'Metric name, e.g. exact_match or trigram_similarity.';
COMMENT ON COLUMN evaltool.score.value IS 'Numeric value (finite); NULL for pure pass/fail metrics.';
COMMENT ON COLUMN evaltool.score.passed IS 'Pass/fail outcome where the metric has one.';
COMMENT ON COLUMN evaltool.score.details IS 'Scorer details as a JSON object (judge reasoning, matched span, ...).';
COMMENT ON COLUMN evaltool.score.scorer IS 'Scorer that produced the value.';
COMMENT ON COLUMN evaltool.score.scorer_version IS 'Version of the scorer, so that changed scorers are visible.';
COMMENT ON COLUMN evaltool.score.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.score.updated_at IS 'When the row last changed; set by trigger.';
COMMENT ON COLUMN evaltool.score.scoring_id IS 'The scoring pass that wrote the score: scorer, version, judge snapshot and rubric hash. NULL for a score inserted directly in SQL.';
COMMENT ON COLUMN evaltool.score.run_id IS 'Run of the response scored; the partition key, and part of the reference to the response.';
COMMENT ON TABLE evaltool.score_history IS 'Scores replaced by a rescoring (or deleted), copied by trigger: with the current scores in score, every score ever written, so two versions of a scorer or judge can be compared on the same responses. Partitioned by run_id.';
COMMENT ON COLUMN evaltool.score_history.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.score_history.score_id IS 'id the score had in table score.';
COMMENT ON COLUMN evaltool.score_history.response_id IS 'Response that was scored.';
COMMENT ON COLUMN evaltool.score_history.scoring_id IS 'Scoring pass that wrote the score; NULL for one inserted directly in SQL.';
COMMENT ON COLUMN evaltool.score_history.metric IS 'Metric name.';
COMMENT ON COLUMN evaltool.score_history.value IS 'Numeric value; NULL for pure pass/fail metrics.';
COMMENT ON COLUMN evaltool.score_history.passed IS 'Pass/fail outcome where the metric has one.';
COMMENT ON COLUMN evaltool.score_history.details IS 'Scorer details (judge reasoning, ...).';
COMMENT ON COLUMN evaltool.score_history.scorer IS 'Scorer that produced the value.';
COMMENT ON COLUMN evaltool.score_history.scorer_version IS 'Version of the scorer.';
COMMENT ON COLUMN evaltool.score_history.created_at IS 'When the score was written.';
COMMENT ON COLUMN evaltool.score_history.superseded_at IS 'When it was replaced or deleted.';
COMMENT ON COLUMN evaltool.score_history.run_id IS 'Run of the response that was scored; the partition key.';
COMMENT ON TABLE evaltool.response IS 'One answer of a model to one test case in a run (one per sample with repeats), or the error that prevented it. Partitioned by run_id (run_partition).';
COMMENT ON COLUMN evaltool.preference.run_a_id IS 'The run of response A; set from it by trigger.';
COMMENT ON COLUMN evaltool.preference.run_b_id IS 'The run of response B; set from it by trigger.';
