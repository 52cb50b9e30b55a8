-- 0016_cost_ledger: what calls cost, kept per run and quarter of an hour as the responses
-- are written, so that a month's cost reads a few rows per run instead of every response
-- of the history (cost_daily used to aggregate the whole response table for any period).
-- Statement triggers on response (sql/28_trg_cost_ledger.sql) append each statement's
-- change as signed rows: no row is updated in place, so concurrent workers of one run
-- never wait on each other; evaltool refresh folds each run's rows of a quarter into one.
-- Quarters, not days: days are the reader's time zone's, and every zone's offset is a
-- whole number of quarters. An archived run's rows stay (its responses leave the database,
-- its cost does not); those archived before this migration get one row from run_archived.
-- depends: 0015_run_id_statistics

-- sql/52 defines it again, over the ledger
DROP VIEW IF EXISTS evaltool.cost_daily;

CREATE TABLE evaltool.cost_ledger (
    run_id         bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    period         timestamptz NOT NULL,
    calls          bigint NOT NULL,
    errors         bigint NOT NULL,
    input_tokens   bigint,
    output_tokens  bigint,
    cost_usd       numeric,
    unpriced_calls bigint NOT NULL,
    folded         boolean NOT NULL DEFAULT false
);

CREATE INDEX cost_ledger_run_period_idx ON evaltool.cost_ledger (run_id, period);
-- the rows that evaltool refresh has still to fold: what changed since it last ran
CREATE INDEX cost_ledger_unfolded_idx ON evaltool.cost_ledger (run_id, period)
    WHERE NOT folded;

INSERT INTO evaltool.cost_ledger (run_id, period, calls, errors, input_tokens, output_tokens,
                                  cost_usd, unpriced_calls, folded)
SELECT x.run_id, date_bin('15 minutes', coalesce(x.started_at, x.created_at),
                          timestamptz '2000-01-01 00:00+00'),
       count(*), count(*) FILTER (WHERE x.status = 'error'),
       sum(x.input_tokens), sum(x.output_tokens), sum(x.cost_usd),
       count(*) FILTER (WHERE x.cost_usd IS NULL), true
FROM evaltool.response x
GROUP BY 1, 2;

INSERT INTO evaltool.cost_ledger (run_id, period, calls, errors, input_tokens, output_tokens,
                                  cost_usd, unpriced_calls, folded)
SELECT a.run_id, date_bin('15 minutes', coalesce(r.started_at, r.created_at),
                          timestamptz '2000-01-01 00:00+00'),
       a.responses, a.errors, a.input_tokens, a.output_tokens, a.cost_usd, 0, true
FROM evaltool.run_archived a
JOIN evaltool.run r ON r.id = a.run_id;

COMMENT ON TABLE evaltool.cost_ledger IS 'What model calls cost, per run and quarter of an hour, kept by triggers on response: each statement that writes, changes or deletes responses appends its change as signed rows, and evaltool refresh folds a run''s rows of one quarter into one. Sum over it (evaltool.cost_daily does) rather than reading single rows. An archived run''s rows stay.';
COMMENT ON COLUMN evaltool.cost_ledger.run_id IS 'The run whose calls these are.';
COMMENT ON COLUMN evaltool.cost_ledger.period IS 'Start of the quarter of an hour in which the calls started (response.started_at, else created_at).';
COMMENT ON COLUMN evaltool.cost_ledger.calls IS 'Responses written (negative for responses deleted or changed).';
COMMENT ON COLUMN evaltool.cost_ledger.errors IS 'Of which failed calls.';
COMMENT ON COLUMN evaltool.cost_ledger.input_tokens IS 'Input tokens.';
COMMENT ON COLUMN evaltool.cost_ledger.output_tokens IS 'Output tokens.';
COMMENT ON COLUMN evaltool.cost_ledger.cost_usd IS 'Cost in USD at the prices in force at each call.';
COMMENT ON COLUMN evaltool.cost_ledger.unpriced_calls IS 'Calls without a known cost.';
COMMENT ON COLUMN evaltool.cost_ledger.folded IS 'Whether evaltool refresh made this row from the rows before it (false: a statement''s change, still to fold).';
