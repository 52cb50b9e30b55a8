-- requires: 0021_response_cost_given
-- Re-pricing: a response's cost is its tokens at the model's price in force when the call
-- was made (evaltool.call_cost_usd), so a price entered, corrected or removed later
-- re-prices the calls of its time: a run made before its model had a price stops showing
-- "no price set" once one is entered for that time. Costs a response came with
-- (cost_given) and cache hits (cached_from, free) stay. Deferred to the commit, so that
-- the two statements of a price change (close the old range, open the new) are seen
-- together; the cost ledger's triggers on response carry the change into cost_daily.
CREATE OR REPLACE FUNCTION evaltool.reprice_calls() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    lo timestamptz;
    hi timestamptz;
    model bigint;
BEGIN
    -- the times whose price this row's change may move: its old range and its new one
    IF TG_OP = 'INSERT' THEN
        lo := NEW.valid_from;
        hi := NEW.valid_to;
    ELSIF TG_OP = 'DELETE' THEN
        lo := OLD.valid_from;
        hi := OLD.valid_to;
    ELSE
        lo := least(OLD.valid_from, NEW.valid_from);
        hi := CASE WHEN OLD.valid_to IS NOT NULL AND NEW.valid_to IS NOT NULL
                   THEN greatest(OLD.valid_to, NEW.valid_to) END;
    END IF;
    FOREACH model IN ARRAY ARRAY(SELECT DISTINCT unnest(ARRAY[OLD.model_id, NEW.model_id])
                                  EXCEPT SELECT NULL) LOOP
        UPDATE evaltool.response x
        SET cost_usd = evaltool.call_cost_usd(r.model_id, coalesce(x.started_at, x.created_at),
                                              x.input_tokens, x.output_tokens)
        FROM evaltool.run r
        WHERE r.model_id = model AND x.run_id = r.id
          AND NOT x.cost_given AND x.cached_from IS NULL
          AND coalesce(x.started_at, x.created_at) >= lo
          AND (hi IS NULL OR coalesce(x.started_at, x.created_at) < hi)
          AND x.cost_usd IS DISTINCT FROM
              evaltool.call_cost_usd(r.model_id, coalesce(x.started_at, x.created_at),
                                     x.input_tokens, x.output_tokens);
    END LOOP;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.reprice_calls() IS
    'Trigger function: re-prices the responses of a model whose calls fall in the validity range of a price row that was added, changed or removed (not costs given with the response, nor cache hits).';

DROP TRIGGER IF EXISTS model_pricing_reprice ON evaltool.model_pricing;
CREATE CONSTRAINT TRIGGER model_pricing_reprice
    AFTER INSERT OR UPDATE OR DELETE ON evaltool.model_pricing
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION evaltool.reprice_calls();

COMMENT ON TRIGGER model_pricing_reprice ON evaltool.model_pricing IS
    'At commit, re-prices the calls covered by a price added, corrected or removed (evaltool.reprice_calls).';
