-- Undo 0019_token_counts_bigint: integer token counts again (refused while a response holds
-- a count past 2^31 - 1).
DROP VIEW IF EXISTS evaltool.run_summary CASCADE;
DROP FUNCTION IF EXISTS evaltool.call_cost_usd(bigint, timestamptz, bigint, bigint);
ALTER TABLE evaltool.response
    ALTER COLUMN input_tokens TYPE integer,
    ALTER COLUMN output_tokens TYPE integer;
