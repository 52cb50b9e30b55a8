-- Undo 0013_partition_by_run: response, score and score_history become plain tables again,
-- with every row, keys and ids as they were before 0013.
ALTER TABLE evaltool.response RENAME TO response_part;
ALTER TABLE evaltool.score RENAME TO score_part;
ALTER TABLE evaltool.score_history RENAME TO score_history_part;
ALTER INDEX evaltool.response_pkey RENAME TO response_part_pkey;
ALTER INDEX evaltool.response_run_prompt_sample_key RENAME TO response_part_run_prompt_sample_key;
ALTER INDEX evaltool.response_id_idx RENAME TO response_part_id_idx;
ALTER INDEX evaltool.response_prompt_id_idx RENAME TO response_part_prompt_id_idx;
ALTER INDEX evaltool.response_cache_key_idx RENAME TO response_part_cache_key_idx;
ALTER INDEX evaltool.response_cached_from_idx RENAME TO response_part_cached_from_idx;
ALTER INDEX evaltool.score_pkey RENAME TO score_part_pkey;
ALTER INDEX evaltool.score_history_pkey RENAME TO score_history_part_pkey;
ALTER INDEX evaltool.score_history_response_id_idx RENAME TO score_history_part_response_id_idx;
ALTER INDEX evaltool.score_history_scoring_id_idx RENAME TO score_history_part_scoring_id_idx;
ALTER SEQUENCE evaltool.response_id_seq RENAME TO response_part_id_seq;
ALTER SEQUENCE evaltool.score_id_seq RENAME TO score_part_id_seq;
ALTER SEQUENCE evaltool.score_history_id_seq RENAME TO score_history_part_id_seq;

CREATE TABLE evaltool.response (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    prompt_id       bigint NOT NULL REFERENCES evaltool.prompt (id) ON DELETE RESTRICT,
    status          text NOT NULL CHECK (status IN ('ok', 'error')),
    output          jsonb,
    output_text     text,
    error           text,
    latency_ms      double precision CHECK (latency_ms >= 0 AND latency_ms < 'Infinity'),
    input_tokens    integer CHECK (input_tokens >= 0),
    output_tokens   integer CHECK (output_tokens >= 0),
    tokens_estimated boolean NOT NULL DEFAULT false,
    cost_usd        numeric(18, 8) CHECK (cost_usd >= 0),
    attempts        integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    metadata        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    started_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sample          integer NOT NULL DEFAULT 1 CHECK (sample >= 1),
    request         jsonb,
    cache_key       bytea CHECK (octet_length(cache_key) = 32),
    cached_from     bigint REFERENCES evaltool.response (id) ON DELETE SET NULL,
    CONSTRAINT response_run_prompt_sample_key UNIQUE (run_id, prompt_id, sample),
    CONSTRAINT response_error_has_message CHECK (status <> 'error' OR error IS NOT NULL)
);
CREATE INDEX response_prompt_id_idx ON evaltool.response (prompt_id);
CREATE INDEX response_cache_key_idx ON evaltool.response (cache_key)
    WHERE status = 'ok' AND cache_key IS NOT NULL;
CREATE INDEX response_cached_from_idx ON evaltool.response (cached_from)
    WHERE cached_from IS NOT NULL;

CREATE TABLE evaltool.score (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    response_id    bigint NOT NULL REFERENCES evaltool.response (id) ON DELETE CASCADE,
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
    CONSTRAINT score_response_metric_key UNIQUE (response_id, metric),
    CONSTRAINT score_has_result CHECK (value IS NOT NULL OR passed IS NOT NULL)
);

CREATE TABLE evaltool.score_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    score_id       bigint NOT NULL,
    response_id    bigint NOT NULL REFERENCES evaltool.response (id) ON DELETE CASCADE,
    scoring_id     bigint,
    metric         text NOT NULL,
    value          double precision,
    passed         boolean,
    details        jsonb NOT NULL,
    scorer         text NOT NULL,
    scorer_version text NOT NULL,
    created_at     timestamptz NOT NULL,
    superseded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX score_history_scoring_id_idx ON evaltool.score_history (scoring_id);
CREATE INDEX score_history_response_id_idx ON evaltool.score_history (response_id);

-- cached_from is a foreign key again: sources that are gone become NULL.
INSERT INTO evaltool.response OVERRIDING SYSTEM VALUE
SELECT id, run_id, prompt_id, status, output, output_text, error, latency_ms, input_tokens,
       output_tokens, tokens_estimated, cost_usd, attempts, metadata, started_at, created_at,
       updated_at, sample, request, cache_key, NULL
FROM evaltool.response_part;
UPDATE evaltool.response r SET cached_from = p.cached_from
FROM evaltool.response_part p
WHERE p.id = r.id AND p.cached_from IN (SELECT id FROM evaltool.response);

INSERT INTO evaltool.score OVERRIDING SYSTEM VALUE
SELECT id, response_id, metric, value, passed, details, scorer, scorer_version, created_at,
       updated_at, scoring_id
FROM evaltool.score_part;

INSERT INTO evaltool.score_history OVERRIDING SYSTEM VALUE
SELECT id, score_id, response_id, scoring_id, metric, value, passed, details, scorer,
       scorer_version, created_at, superseded_at
FROM evaltool.score_history_part;

DO $$
BEGIN
    PERFORM setval(pg_get_serial_sequence('evaltool.response', 'id'),
                   (SELECT last_value FROM evaltool.response_part_id_seq));
    PERFORM setval(pg_get_serial_sequence('evaltool.score', 'id'),
                   (SELECT last_value FROM evaltool.score_part_id_seq));
    PERFORM setval(pg_get_serial_sequence('evaltool.score_history', 'id'),
                   (SELECT last_value FROM evaltool.score_history_part_id_seq));
END
$$;

ALTER TABLE evaltool.preference
    DROP CONSTRAINT preference_response_a_fkey,
    DROP CONSTRAINT preference_response_b_fkey;
DROP INDEX evaltool.preference_run_a_idx;
DROP INDEX evaltool.preference_run_b_idx;
ALTER TABLE evaltool.preference
    DROP COLUMN run_a_id,
    DROP COLUMN run_b_id,
    ADD CONSTRAINT preference_response_a_id_fkey FOREIGN KEY (response_a_id)
        REFERENCES evaltool.response (id) ON DELETE CASCADE,
    ADD CONSTRAINT preference_response_b_id_fkey FOREIGN KEY (response_b_id)
        REFERENCES evaltool.response (id) ON DELETE CASCADE;
CREATE INDEX preference_response_a_id_idx ON evaltool.preference (response_a_id);
CREATE INDEX preference_response_b_id_idx ON evaltool.preference (response_b_id);

DROP TABLE evaltool.score_history_part, evaltool.score_part, evaltool.response_part CASCADE;
DROP TABLE evaltool.run_partition;

COMMENT ON TABLE evaltool.response IS 'The result of one model call: one per (run, test case, sample), with output, tokens, latency, cost and error.';
COMMENT ON COLUMN evaltool.response.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.response.run_id IS 'Run the response belongs to.';
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
COMMENT ON COLUMN evaltool.response.cached_from IS 'The response this one was reused from (a cache hit: no call was made, its cost is zero); NULL for a call, or when the source run was deleted.';
COMMENT ON TABLE evaltool.score IS 'The current score of one response on one metric: exactly one per (response, metric). Scores it replaced are kept in score_history.';
COMMENT ON COLUMN evaltool.score.id IS 'Surrogate key.';
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
COMMENT ON TABLE evaltool.score_history IS 'Scores replaced by a rescoring (or deleted), copied by trigger: with the current scores in score, every score ever written, so two versions of a scorer or judge can be compared on the same responses.';
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
