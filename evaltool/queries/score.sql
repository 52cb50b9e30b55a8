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
-- Where a Python scorer's results wait (by COPY) until one INSERT writes them all; the
-- session keeps it, pyscore_write empties it.
CREATE TEMP TABLE IF NOT EXISTS _pyscore (
    response_id bigint NOT NULL, value double precision, passed boolean, details jsonb NOT NULL
)

-- pyscore_cases --
-- Every response of a run with its test case, for a Python scorer, in batches.
SELECT x.id, x.status = 'ok', p.input, p.expected, x.output, x.output_text, x.latency_ms,
       x.cost_usd::float8
FROM evaltool.response x JOIN evaltool.prompt p ON p.id = x.prompt_id
WHERE x.run_id = %(run_id)s
ORDER BY x.id

-- pyscore_copy --
-- Results of one batch.
COPY _pyscore (response_id, value, passed, details) FROM STDIN

-- pyscore_begin --
-- A new scoring of the metric: the run's earlier scores of it move to score_history.
SELECT evaltool.begin_scoring(%(run_id)s, %(metric)s, %(scorer)s, %(version)s, %(arg)s,
                              %(judge_model)s, %(judge_snapshot)s, %(rubric_sha256)s)

-- pyscore_write --
-- All results of a Python scorer, under its scoring; empties the stage.
WITH staged AS (DELETE FROM _pyscore RETURNING *)
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
