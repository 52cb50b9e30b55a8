-- score_sql --
-- Applies one built-in SQL scorer to every response of a run, under the metric name
-- %(metric)s, against the expected answers or the outputs of run %(reference)s (see
-- sql/62_fn_score_run.sql).
SELECT evaltool.score_run(%(run_id)s, %(scorer)s, %(arg)s, %(metric)s, %(reference)s)

-- score_reference_model --
-- The model of a reference run, which names the metrics scored against it.
SELECT m.name FROM evaltool.run r JOIN evaltool.model m ON m.id = r.model_id
WHERE r.id = %(reference)s

-- pyscore_stage --
-- Where Python scorers' results wait, per metric, until one INSERT writes them all: the
-- session keeps it across transactions, so the scorers work with no transaction open.
CREATE TEMP TABLE IF NOT EXISTS _pyscored (
    metric text NOT NULL, response_id bigint NOT NULL, value double precision,
    passed boolean, details jsonb NOT NULL
)

-- pyscore_clear --
-- Forgets a metric's staged results (of an earlier attempt that failed).
DELETE FROM _pyscored WHERE metric = %(metric)s

-- pyscore_cases --
-- The next %(limit)s responses of a run after response %(after)s, with their test cases,
-- for a Python scorer: read by keyset, each batch in a transaction of its own.
SELECT x.id, x.status = 'ok', p.input, p.expected, x.output, x.output_text, x.latency_ms,
       x.cost_usd::float8
FROM evaltool.response x JOIN evaltool.prompt p ON p.id = x.prompt_id
WHERE x.run_id = %(run_id)s AND x.id > %(after)s
ORDER BY x.id
LIMIT %(limit)s

-- pyscore_count --
-- How many responses pyscore_cases reads, for the progress display.
SELECT count(*) FROM evaltool.response x WHERE x.run_id = %(run_id)s

-- pyscore_copy --
-- Results of one batch.
COPY _pyscored (metric, response_id, value, passed, details) FROM STDIN

-- pyscore_begin --
-- A new scoring of the metric: the run's earlier scores of it move to score_history.
SELECT evaltool.begin_scoring(%(run_id)s, %(metric)s, %(scorer)s, %(version)s, %(arg)s,
                              %(judge_model)s, %(judge_snapshot)s, %(rubric_sha256)s)

-- pyscore_write --
-- All staged results of a metric, under its scoring; empties its stage.
WITH staged AS (DELETE FROM _pyscored WHERE metric = %(metric)s RETURNING *)
INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, details, scorer,
                            scorer_version, scoring_id)
SELECT g.run_id, x.response_id, %(metric)s, x.value, x.passed, x.details, %(scorer)s,
       %(version)s, g.id
FROM staged x
CROSS JOIN (SELECT id, run_id FROM evaltool.scoring WHERE id = %(scoring_id)s) g
ORDER BY x.response_id

-- scoring_finish --
-- How many scores the scoring wrote.
SELECT evaltool.finish_scoring(%(scoring_id)s, %(scores)s)

-- judge_model --
-- The model llm_judge calls, as a run would snapshot it now, with its current parameters.
SELECT evaltool.model_snapshot(m.id, now()), evaltool.model_params_at(m.id, now())
FROM evaltool.model m WHERE m.name = %(model)s
