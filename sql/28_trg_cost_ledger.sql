-- requires: 0016_cost_ledger
-- evaltool.cost_ledger (migration 0016), kept by statement triggers on response: each
-- statement's change, aggregated per run and quarter of an hour from its transition
-- tables, is appended as signed rows: + for rows written, - for rows deleted, both for
-- rows changed. Appending, never updating, keeps concurrent writers of one run from
-- waiting on each other's ledger rows. Runs that are archived (run_archived) are left
-- alone: their responses leave and come back (evaltool runs archive, load archive), their
-- cost stays. A run being deleted takes its ledger rows with it.
CREATE OR REPLACE FUNCTION evaltool.cost_ledger_append() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO evaltool.cost_ledger (run_id, period, calls, errors, input_tokens,
                                          output_tokens, cost_usd, unpriced_calls)
        SELECT d.* FROM (
            SELECT n.run_id,
                   date_bin('15 minutes', coalesce(n.started_at, n.created_at),
                            timestamptz '2000-01-01 00:00+00'),
                   count(*), count(*) FILTER (WHERE n.status = 'error'),
                   sum(n.input_tokens), sum(n.output_tokens), sum(n.cost_usd),
                   count(*) FILTER (WHERE n.cost_usd IS NULL)
            FROM new_rows n
            GROUP BY 1, 2
        ) d
        WHERE NOT EXISTS (SELECT FROM evaltool.run_archived a WHERE a.run_id = d.run_id);
    ELSIF TG_OP = 'UPDATE' THEN
        -- only the rows whose cost, tokens, status or time changed
        INSERT INTO evaltool.cost_ledger (run_id, period, calls, errors, input_tokens,
                                          output_tokens, cost_usd, unpriced_calls)
        SELECT d.* FROM (
            SELECT c.run_id,
                   date_bin('15 minutes', c.at, timestamptz '2000-01-01 00:00+00'),
                   sum(c.sign), coalesce(sum(c.sign) FILTER (WHERE c.status = 'error'), 0),
                   sum(c.sign * c.input_tokens), sum(c.sign * c.output_tokens),
                   sum(c.sign * c.cost_usd),
                   coalesce(sum(c.sign) FILTER (WHERE c.cost_usd IS NULL), 0)
            FROM old_rows o
            JOIN new_rows n ON n.run_id = o.run_id AND n.id = o.id
            CROSS JOIN LATERAL (
                VALUES (o.run_id, -1, o.status, o.input_tokens, o.output_tokens, o.cost_usd,
                        coalesce(o.started_at, o.created_at)),
                       (n.run_id, 1, n.status, n.input_tokens, n.output_tokens, n.cost_usd,
                        coalesce(n.started_at, n.created_at))
            ) AS c(run_id, sign, status, input_tokens, output_tokens, cost_usd, at)
            WHERE (o.status, o.input_tokens, o.output_tokens, o.cost_usd,
                   coalesce(o.started_at, o.created_at))
                  IS DISTINCT FROM (n.status, n.input_tokens, n.output_tokens, n.cost_usd,
                                    coalesce(n.started_at, n.created_at))
            GROUP BY 1, 2
        ) d
        WHERE NOT EXISTS (SELECT FROM evaltool.run_archived a WHERE a.run_id = d.run_id);
    ELSE
        INSERT INTO evaltool.cost_ledger (run_id, period, calls, errors, input_tokens,
                                          output_tokens, cost_usd, unpriced_calls)
        SELECT d.* FROM (
            SELECT o.run_id,
                   date_bin('15 minutes', coalesce(o.started_at, o.created_at),
                            timestamptz '2000-01-01 00:00+00'),
                   -count(*), -count(*) FILTER (WHERE o.status = 'error'),
                   -sum(o.input_tokens), -sum(o.output_tokens), -sum(o.cost_usd),
                   -count(*) FILTER (WHERE o.cost_usd IS NULL)
            FROM old_rows o
            GROUP BY 1, 2
        ) d
        WHERE NOT EXISTS (SELECT FROM evaltool.run_archived a WHERE a.run_id = d.run_id)
          AND EXISTS (SELECT FROM evaltool.run r WHERE r.id = d.run_id);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.cost_ledger_append() IS
    'Trigger function: appends the change of a statement on response to cost_ledger, per run and quarter of an hour, set-based from its transition tables (rows written count +, rows deleted -, rows changed both). Archived runs and runs being deleted are left out.';

-- Transition tables allow one event per trigger: one trigger each.
DROP TRIGGER IF EXISTS cost_ledger_insert ON evaltool.response;
CREATE TRIGGER cost_ledger_insert
    AFTER INSERT ON evaltool.response
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.cost_ledger_append();
COMMENT ON TRIGGER cost_ledger_insert ON evaltool.response IS
    'Adds the cost of the statement''s new responses to cost_ledger.';

DROP TRIGGER IF EXISTS cost_ledger_update ON evaltool.response;
CREATE TRIGGER cost_ledger_update
    AFTER UPDATE ON evaltool.response
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.cost_ledger_append();
COMMENT ON TRIGGER cost_ledger_update ON evaltool.response IS
    'Moves the cost of the statement''s changed responses in cost_ledger (out as they were, in as they are).';

DROP TRIGGER IF EXISTS cost_ledger_delete ON evaltool.response;
CREATE TRIGGER cost_ledger_delete
    AFTER DELETE ON evaltool.response
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.cost_ledger_append();
COMMENT ON TRIGGER cost_ledger_delete ON evaltool.response IS
    'Takes the cost of the statement''s deleted responses out of cost_ledger, unless their run is archived (its cost stays) or deleted.';

-- Folds what changed since the last fold: each run and quarter with rows still unfolded
-- becomes one folded row (none where everything cancelled out). The rows it sums are the
-- rows it deleted, so rows appended meanwhile wait for the next fold, and two folds at
-- once never count a row twice.
CREATE OR REPLACE FUNCTION evaltool.fold_cost_ledger() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    folded bigint;
BEGIN
    WITH changed AS (
        SELECT DISTINCT l.run_id, l.period FROM evaltool.cost_ledger l WHERE NOT l.folded
    ), gone AS (
        DELETE FROM evaltool.cost_ledger l
        USING changed c
        WHERE l.run_id = c.run_id AND l.period = c.period
        RETURNING l.*
    ), sums AS (
        INSERT INTO evaltool.cost_ledger (run_id, period, calls, errors, input_tokens,
                                          output_tokens, cost_usd, unpriced_calls, folded)
        SELECT g.run_id, g.period, sum(g.calls), sum(g.errors), sum(g.input_tokens),
               sum(g.output_tokens), sum(g.cost_usd), sum(g.unpriced_calls), true
        FROM gone g
        GROUP BY g.run_id, g.period
        HAVING sum(g.calls) <> 0 OR sum(g.cost_usd) <> 0
        RETURNING 1
    )
    SELECT count(*) INTO folded FROM sums;
    RETURN folded;
END
$$;
REVOKE EXECUTE ON FUNCTION evaltool.fold_cost_ledger() FROM PUBLIC;

COMMENT ON FUNCTION evaltool.fold_cost_ledger() IS
    'Folds the rows of cost_ledger that statements appended since the last fold into one row per run and quarter of an hour; returns the rows it made. Called by evaltool.refresh_aggregates.';
