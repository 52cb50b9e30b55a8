-- requires: 0019_token_counts_bigint
-- evaltool.call_cost_usd: what a call cost, at the price in force when it was made.
CREATE OR REPLACE FUNCTION evaltool.call_cost_usd(
    model_id bigint, at timestamptz, input_tokens bigint, output_tokens bigint
) RETURNS numeric
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (
        SELECT round((coalesce(call_cost_usd.input_tokens, 0) * p.input_usd_per_mtok
                      + coalesce(call_cost_usd.output_tokens, 0) * p.output_usd_per_mtok)
                     / 1000000, 8)
        FROM evaltool.model_pricing p
        WHERE p.model_id = call_cost_usd.model_id
          AND p.valid_from <= call_cost_usd.at
          AND (p.valid_to IS NULL OR p.valid_to > call_cost_usd.at)
          AND (call_cost_usd.input_tokens IS NOT NULL OR call_cost_usd.output_tokens IS NOT NULL)
    );

COMMENT ON FUNCTION evaltool.call_cost_usd(bigint, timestamptz, bigint, bigint) IS
    'USD cost of a call with these token counts at the model''s price in force at time at; NULL without a price or without token counts.';
