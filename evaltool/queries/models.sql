-- provider_ensure --
-- The named provider, created when absent.
WITH made AS (
    INSERT INTO evaltool.provider (name) VALUES (%(provider)s)
    ON CONFLICT (name) DO NOTHING
    RETURNING id
)
SELECT id FROM made
UNION ALL
SELECT id FROM evaltool.provider WHERE name = %(provider)s
LIMIT 1

-- model_add --
-- Registers a model; fails on a name already taken (model_name_key).
INSERT INTO evaltool.model
    (provider_id, name, model_id, version, adapter, config, is_reference, description)
VALUES (%(provider_id)s, %(name)s, %(model_id)s, %(version)s, %(adapter)s, %(config)s,
        %(is_reference)s, %(description)s)
RETURNING id

-- model_same --
-- Whether a model of this name is called the same way (for models add --exist-ok).
SELECT true FROM evaltool.model
WHERE name = %(name)s AND adapter = %(adapter)s AND model_id = %(model_id)s

-- model_update --
-- Changes a model's connection settings (%(set)s added or replaced, %(unset)s removed)
-- and description; returns its configuration.
UPDATE evaltool.model
SET config = (config || %(set)s) - %(unset)s::text[],
    description = coalesce(%(description)s, description)
WHERE name = %(name)s
RETURNING config

-- model_id_by_name --
-- The id of a model by its registry name.
SELECT id FROM evaltool.model WHERE name = %(name)s

-- model_list --
-- Models with the price and parameters in force now.
SELECT m.name, m.adapter, m.model_id, pv.name AS provider, m.version,
       pr.input_usd_per_mtok, pr.output_usd_per_mtok, pa.params,
       m.is_reference, m.is_active, m.created_at
FROM evaltool.model m
JOIN evaltool.provider pv ON pv.id = m.provider_id
LEFT JOIN evaltool.model_pricing pr
       ON pr.model_id = m.id AND pr.valid_from <= now()
      AND (pr.valid_to IS NULL OR pr.valid_to > now())
LEFT JOIN evaltool.model_params pa
       ON pa.model_id = m.id AND pa.valid_from <= now()
      AND (pa.valid_to IS NULL OR pa.valid_to > now())
WHERE m.is_active OR %(all)s
ORDER BY m.name

-- model_show --
-- One model with its provider, and the history of its prices and parameters.
SELECT m.name, m.adapter, m.model_id, pv.name AS provider, m.version, m.config,
       m.is_reference, m.is_active, m.description, m.created_by, m.created_at, m.updated_at,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'input_usd_per_mtok', p.input_usd_per_mtok,
                   'output_usd_per_mtok', p.output_usd_per_mtok,
                   'valid_from', p.valid_from, 'valid_to', p.valid_to) ORDER BY p.valid_from), '[]')
        FROM evaltool.model_pricing p WHERE p.model_id = m.id) AS pricing,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'params', p.params, 'valid_from', p.valid_from, 'valid_to', p.valid_to)
                   ORDER BY p.valid_from), '[]')
        FROM evaltool.model_params p WHERE p.model_id = m.id) AS params,
       (SELECT count(*) FROM evaltool.run r WHERE r.model_id = m.id) AS runs
FROM evaltool.model m
JOIN evaltool.provider pv ON pv.id = m.provider_id
WHERE m.name = %(name)s

-- price_close --
-- Ends the model's open price range where the new one starts.
UPDATE evaltool.model_pricing
SET valid_to = %(valid_from)s
WHERE model_id = %(model_id)s AND valid_to IS NULL AND valid_from < %(valid_from)s

-- price_add --
-- A price from valid_from on, open-ended.
INSERT INTO evaltool.model_pricing (model_id, input_usd_per_mtok, output_usd_per_mtok, valid_from)
VALUES (%(model_id)s, %(input)s, %(output)s, %(valid_from)s)

-- params_current --
-- The parameters in force now (an empty object when none).
SELECT coalesce((SELECT params FROM evaltool.model_params
                 WHERE model_id = %(model_id)s AND valid_to IS NULL), '{}')

-- params_close --
-- Ends the model's open parameter range where the new one starts.
UPDATE evaltool.model_params
SET valid_to = %(valid_from)s
WHERE model_id = %(model_id)s AND valid_to IS NULL AND valid_from < %(valid_from)s

-- params_add --
-- Parameters from valid_from on, open-ended.
INSERT INTO evaltool.model_params (model_id, params, valid_from)
VALUES (%(model_id)s, %(params)s, %(valid_from)s)

-- clock_now --
-- The current time (not the transaction's start), for validity ranges that start now.
SELECT clock_timestamp()
