-- Undo 0011_templates_cache: templates, cache keys, rendered requests and suite names are dropped.
ALTER TABLE evaltool.scoring DROP COLUMN reference_run_id;
ALTER TABLE evaltool.response DROP COLUMN cached_from, DROP COLUMN cache_key, DROP COLUMN request;
ALTER TABLE evaltool.run DROP COLUMN suite, DROP COLUMN config_hash, DROP COLUMN template_id;
DROP TABLE evaltool.prompt_template;
