-- 0019_token_counts_bigint: a response's token counts as bigint. Loaded logs and other
-- tools' results carry counts summed over batches or long sessions, past 2^31; as integer
-- they stopped a load with "integer out of range". The view that reads them (run_summary)
-- and call_cost_usd's integer signature go first: sql/ defines them again.
-- depends: 0018_partition_foreign_keys

DROP VIEW IF EXISTS evaltool.run_summary CASCADE;
DROP FUNCTION IF EXISTS evaltool.call_cost_usd(bigint, timestamptz, integer, integer);
ALTER TABLE evaltool.response
    ALTER COLUMN input_tokens TYPE bigint,
    ALTER COLUMN output_tokens TYPE bigint;
