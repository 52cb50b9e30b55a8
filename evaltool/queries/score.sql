-- score_sql --
-- Applies one built-in SQL scorer to every response of a run (see sql/62_fn_score_run.sql).
SELECT evaltool.score_run(%(run_id)s, %(scorer)s, %(arg)s)

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

-- pyscore_write --
-- All results of a Python scorer, replacing earlier scores of the metric; empties the stage.
WITH staged AS (DELETE FROM _pyscore RETURNING *)
INSERT INTO evaltool.score (response_id, metric, value, passed, details, scorer, scorer_version)
SELECT response_id, %(metric)s, value, passed, details, %(scorer)s, %(version)s FROM staged
ON CONFLICT (response_id, metric) DO UPDATE
SET value = excluded.value, passed = excluded.passed, details = excluded.details,
    scorer = excluded.scorer, scorer_version = excluded.scorer_version, updated_at = now()

-- judge_model --
-- The model llm_judge calls, as a run would snapshot it now, with its current parameters.
SELECT evaltool.model_snapshot(m.id, now()), evaltool.model_params_at(m.id, now())
FROM evaltool.model m WHERE m.name = %(model)s
