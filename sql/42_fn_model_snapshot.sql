-- evaltool.model_snapshot / model_params_at: what a run records of its model, so that every
-- query that creates a run takes the same snapshot.
CREATE OR REPLACE FUNCTION evaltool.model_params_at(model_id bigint, at timestamptz)
RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN coalesce(
        (SELECT p.params FROM evaltool.model_params p
         WHERE p.model_id = model_params_at.model_id AND p.valid_from <= model_params_at.at
           AND (p.valid_to IS NULL OR p.valid_to > model_params_at.at)),
        '{}');

COMMENT ON FUNCTION evaltool.model_params_at(bigint, timestamptz) IS
    'Generation parameters of the model in force at time at; an empty object when none.';

CREATE OR REPLACE FUNCTION evaltool.model_snapshot(model_id bigint, at timestamptz)
RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (
        SELECT to_jsonb(m) || jsonb_build_object('pricing', (
                   SELECT jsonb_build_object('input_usd_per_mtok', p.input_usd_per_mtok,
                                             'output_usd_per_mtok', p.output_usd_per_mtok,
                                             'valid_from', p.valid_from)
                   FROM evaltool.model_pricing p
                   WHERE p.model_id = m.id AND p.valid_from <= model_snapshot.at
                     AND (p.valid_to IS NULL OR p.valid_to > model_snapshot.at)))
        FROM evaltool.model m
        WHERE m.id = model_snapshot.model_id
    );

COMMENT ON FUNCTION evaltool.model_snapshot(bigint, timestamptz) IS
    'The model row as JSON with the price in force at time at (key pricing, null without one): what run.model_snapshot records.';
