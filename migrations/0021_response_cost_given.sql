-- 0021_response_cost_given: which costs re-pricing may change.
-- A response's cost is derived from its tokens and the model's price in force when the
-- call was made, so that a price entered or corrected later re-prices the calls it covers
-- (sql/45_trg_model_pricing_reprice.sql). A cost the response came with (a loaded file's
-- cost_usd, such as promptfoo's) is the provider's word and stays; a cache hit costs
-- nothing (cached_from) and stays too.
-- depends: 0020_imported_models

ALTER TABLE evaltool.response ADD COLUMN cost_given boolean NOT NULL DEFAULT false;

COMMENT ON COLUMN evaltool.response.cost_given IS 'The cost came with the response (a loaded file''s cost_usd) rather than from its tokens and the model''s price: a change of price leaves it as it is.';
