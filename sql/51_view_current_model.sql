-- evaltool.current_pricing and evaltool.current_params: what each model costs and is
-- called with now, from the histories in model_pricing and model_params.
CREATE OR REPLACE VIEW evaltool.current_pricing AS
SELECT m.id AS model_id, m.name AS model, p.input_usd_per_mtok, p.output_usd_per_mtok,
       p.valid_from, p.valid_to
FROM evaltool.model m
JOIN evaltool.model_pricing p ON p.model_id = m.id
WHERE p.valid_from <= now() AND (p.valid_to IS NULL OR p.valid_to > now());

COMMENT ON VIEW evaltool.current_pricing IS 'The price in force now for each model that has one.';
COMMENT ON COLUMN evaltool.current_pricing.model_id IS 'The model.';
COMMENT ON COLUMN evaltool.current_pricing.model IS 'Registry name of the model.';
COMMENT ON COLUMN evaltool.current_pricing.input_usd_per_mtok IS 'USD per million input tokens.';
COMMENT ON COLUMN evaltool.current_pricing.output_usd_per_mtok IS 'USD per million output tokens.';
COMMENT ON COLUMN evaltool.current_pricing.valid_from IS 'Since when this price applies.';
COMMENT ON COLUMN evaltool.current_pricing.valid_to IS 'Until when it applies; NULL while open-ended.';

CREATE OR REPLACE VIEW evaltool.current_params AS
SELECT m.id AS model_id, m.name AS model, p.params, p.valid_from, p.valid_to
FROM evaltool.model m
JOIN evaltool.model_params p ON p.model_id = m.id
WHERE p.valid_from <= now() AND (p.valid_to IS NULL OR p.valid_to > now());

COMMENT ON VIEW evaltool.current_params IS 'The generation parameters in force now for each model that has some.';
COMMENT ON COLUMN evaltool.current_params.model_id IS 'The model.';
COMMENT ON COLUMN evaltool.current_params.model IS 'Registry name of the model.';
COMMENT ON COLUMN evaltool.current_params.params IS 'Generation parameters (temperature, max_tokens, ...), merged into each call.';
COMMENT ON COLUMN evaltool.current_params.valid_from IS 'Since when these parameters apply.';
COMMENT ON COLUMN evaltool.current_params.valid_to IS 'Until when they apply; NULL while open-ended.';
