-- requires: 0012_run_metric_stats
-- requires: 0013_partition_by_run
-- requires: 0014_run_archive
-- requires: 0016_cost_ledger
-- evaltool.run_metric_stats, kept current run by run (migration 0012 made it a table):
-- triggers on score and response mark the runs whose scores changed in run_stats_stale,
-- and a deferred trigger there recomputes each such run from run_metric_summary at commit,
-- once per run and transaction, whoever wrote the scores (score_run, evaltool load scores,
-- Python scorers, judges, psql). evaltool.refresh_aggregates recomputes the runs still
-- stale (those of before 0012) and refreshes any materialized view left.
-- The functions that write these tables run as their owner (SECURITY DEFINER), as the
-- audit triggers do: writers may read them, not write them (sql/90_grants.sql).

-- Set-based within a run: one aggregation over its scores, the run_id predicate reaching
-- its partitions through run_metric_summary's GROUP BYs; a loop over the runs, never over
-- rows.
-- The stale rows are taken first: a run another transaction is still marking waits on
-- that row's insert, so two commits never recompute one run from different snapshots.
-- Planned for each run's id (force_custom_plan): a long session (a worker, a bench) would
-- otherwise reuse a generic plan that cannot see which partitions one run needs. It runs
-- at the commit that wrote the run's scores, before ANALYZE has seen them: the plan is
-- sound because run_id's statistics estimate an unseen run at the average run's size
-- (migration 0015), not at one row.
CREATE OR REPLACE FUNCTION evaltool.update_run_stats(runs bigint[] DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS
$$
DECLARE
    taken bigint[];
    one bigint;
BEGIN
    WITH gone AS (
        DELETE FROM evaltool.run_stats_stale s
        WHERE runs IS NULL OR s.run_id = ANY(runs)
        RETURNING s.run_id
    )
    SELECT coalesce(array_agg(g.run_id), '{}') INTO taken FROM gone g;
    -- an archived run keeps the statistics of its archived scores (run_archived)
    taken := ARRAY(SELECT t FROM unnest(taken) t
                   WHERE NOT EXISTS (SELECT FROM evaltool.run_archived a WHERE a.run_id = t));
    IF cardinality(taken) = 0 THEN
        RETURN 0;
    END IF;
    DELETE FROM evaltool.run_metric_stats s WHERE s.run_id = ANY(taken);
    -- One run at a time: `run_id = one` prunes response and score to the run's partition
    -- (an = ANY(array) would not reach score through the join, and would read all of it).
    FOREACH one IN ARRAY taken LOOP
        INSERT INTO evaltool.run_metric_stats
        SELECT *, now() FROM evaltool.run_metric_summary s WHERE s.run_id = one;
    END LOOP;
    RETURN cardinality(taken);
END
$$;
REVOKE EXECUTE ON FUNCTION evaltool.update_run_stats(bigint[]) FROM PUBLIC;

COMMENT ON FUNCTION evaltool.update_run_stats(bigint[]) IS
    'Recomputes the run_metric_stats rows of the given runs that are in run_stats_stale (of every stale run when NULL) from run_metric_summary, and takes them out of run_stats_stale; returns how many runs it recomputed. A run that is not stale is left alone: to recompute one anyway, insert it into run_stats_stale. An archived run keeps its statistics.';

-- Scores carry their run (migration 0013). An UPDATE that changes no
-- byte of a score (o *<> n, as score_history compares) changes no statistic. Runs are
-- marked in run_id order, so two statements that mark the same runs wait for each other
-- instead of deadlocking.
CREATE OR REPLACE FUNCTION evaltool.mark_score_runs_stale() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO evaltool.run_stats_stale (run_id)
        SELECT DISTINCT n.run_id
        FROM new_rows n
        ORDER BY 1
        ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO evaltool.run_stats_stale (run_id)
        SELECT DISTINCT c.run_id
        FROM old_rows o
        JOIN new_rows n ON n.run_id = o.run_id AND n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.run_id), (n.run_id)) AS c(run_id)
        WHERE o *<> n
        ORDER BY 1
        ON CONFLICT DO NOTHING;
    ELSE
        -- Scores deleted with their response are gone with it: the response's trigger
        -- marks its run (where the run itself is not being deleted).
        INSERT INTO evaltool.run_stats_stale (run_id)
        SELECT DISTINCT o.run_id
        FROM old_rows o
        WHERE EXISTS (SELECT FROM evaltool.response r
                      WHERE r.run_id = o.run_id AND r.id = o.response_id)
        ORDER BY 1
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.mark_score_runs_stale() IS
    'Trigger function: adds the runs of the inserted, changed or deleted scores to run_stats_stale, set-based from the statement''s transition tables.';

CREATE OR REPLACE FUNCTION evaltool.mark_response_runs_stale() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    INSERT INTO evaltool.run_stats_stale (run_id)
    SELECT DISTINCT o.run_id
    FROM old_rows o
    WHERE EXISTS (SELECT FROM evaltool.run r WHERE r.id = o.run_id)
    ORDER BY 1
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.mark_response_runs_stale() IS
    'Trigger function: adds the runs of deleted responses (whose scores went with them) to run_stats_stale, unless the run is being deleted too.';

-- Transition tables allow one event per trigger: one trigger each.
DROP TRIGGER IF EXISTS run_stats_score_insert ON evaltool.score;
CREATE TRIGGER run_stats_score_insert
    AFTER INSERT ON evaltool.score
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.mark_score_runs_stale();
COMMENT ON TRIGGER run_stats_score_insert ON evaltool.score IS
    'Marks the runs of new scores stale, so that their run_metric_stats are recomputed at commit.';

DROP TRIGGER IF EXISTS run_stats_score_update ON evaltool.score;
CREATE TRIGGER run_stats_score_update
    AFTER UPDATE ON evaltool.score
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.mark_score_runs_stale();
COMMENT ON TRIGGER run_stats_score_update ON evaltool.score IS
    'Marks the runs of changed scores stale, so that their run_metric_stats are recomputed at commit.';

DROP TRIGGER IF EXISTS run_stats_score_delete ON evaltool.score;
CREATE TRIGGER run_stats_score_delete
    AFTER DELETE ON evaltool.score
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.mark_score_runs_stale();
COMMENT ON TRIGGER run_stats_score_delete ON evaltool.score IS
    'Marks the runs of deleted scores stale, so that their run_metric_stats are recomputed at commit.';

DROP TRIGGER IF EXISTS run_stats_response_delete ON evaltool.response;
CREATE TRIGGER run_stats_response_delete
    AFTER DELETE ON evaltool.response
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.mark_response_runs_stale();
COMMENT ON TRIGGER run_stats_response_delete ON evaltool.response IS
    'Marks the runs of deleted responses stale (their scores went with them); a deleted run''s statistics go with the run.';

-- At commit (deferred), once per stale row, so once per run and transaction: later marks
-- of the run in the transaction find its row there and add none (ON CONFLICT DO NOTHING).
CREATE OR REPLACE FUNCTION evaltool.update_stale_run_stats() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    -- The first firing at a commit recomputes every run this transaction marked (and any
    -- left stale before) in one set-based pass; the later firings find theirs done.
    PERFORM evaltool.update_run_stats();
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.update_stale_run_stats() IS
    'Trigger function: recomputes the run_metric_stats of the runs marked stale (evaltool.update_run_stats), run by a deferred trigger at commit: the first firing does them all, in one pass.';

-- Constraint triggers have no CREATE OR REPLACE.
DROP TRIGGER IF EXISTS update_run_stats_at_commit ON evaltool.run_stats_stale;
CREATE CONSTRAINT TRIGGER update_run_stats_at_commit
    AFTER INSERT ON evaltool.run_stats_stale
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION evaltool.update_stale_run_stats();
COMMENT ON TRIGGER update_run_stats_at_commit ON evaltool.run_stats_stale IS
    'At the commit of the transaction that marked a run stale, recomputes its run_metric_stats (SET CONSTRAINTS update_run_stats_at_commit IMMEDIATE: at the end of each statement instead).';

CREATE OR REPLACE FUNCTION evaltool.refresh_aggregates(concurrent boolean DEFAULT true)
    RETURNS TABLE (view_name text, rows bigint, seconds double precision)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    v regclass;
    started timestamptz := clock_timestamp();
BEGIN
    -- run_metric_stats: only the runs still stale, so the cost follows what changed.
    view_name := 'evaltool.run_metric_stats';
    rows := evaltool.update_run_stats();
    seconds := extract(epoch FROM clock_timestamp() - started);
    INSERT INTO evaltool.refresh_log (view_name, concurrent, started_at, finished_at, rows,
                                      refreshed_by)
    VALUES (view_name, concurrent, started, clock_timestamp(), rows, session_user);
    RETURN NEXT;
    -- cost_ledger: the rows appended since the last refresh, folded
    started := clock_timestamp();
    view_name := 'evaltool.cost_ledger';
    rows := evaltool.fold_cost_ledger();
    seconds := extract(epoch FROM clock_timestamp() - started);
    INSERT INTO evaltool.refresh_log (view_name, concurrent, started_at, finished_at, rows,
                                      refreshed_by)
    VALUES (view_name, concurrent, started, clock_timestamp(), rows, session_user);
    RETURN NEXT;
    FOR v IN SELECT c.oid::regclass FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'evaltool' AND c.relkind = 'm' ORDER BY c.relname
    LOOP
        started := clock_timestamp();
        IF concurrent THEN
            EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %s', v);
        ELSE
            EXECUTE format('REFRESH MATERIALIZED VIEW %s', v);
        END IF;
        view_name := v::text;
        EXECUTE format('SELECT count(*) FROM %s', v) INTO rows;
        seconds := extract(epoch FROM clock_timestamp() - started);
        INSERT INTO evaltool.refresh_log (view_name, concurrent, started_at, finished_at, rows,
                                          refreshed_by)
        VALUES (view_name, concurrent, started, clock_timestamp(), rows, session_user);
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION evaltool.refresh_aggregates(boolean) FROM PUBLIC;

COMMENT ON FUNCTION evaltool.refresh_aggregates(boolean) IS
    'Recomputes the run_metric_stats of the runs still in run_stats_stale (rows: how many runs; changes of scores are recomputed at their commit, so usually none), folds the rows appended to cost_ledger since the last refresh (rows: the rows it made), then refreshes every materialized view of schema evaltool (CONCURRENTLY by default, so readers are not blocked); records each in refresh_log. Runs as the schema owner, so evaltool_writer may call it (e.g. from pg_cron).';

-- Runs left stale (every run of a database that had its history before 0012, or one whose
-- scores were written with triggers off) are computed as the schema is applied, so that no
-- list or leaderboard starts empty after an upgrade; on a current database, none are.
SELECT evaltool.update_run_stats();
