-- Grants for the roles of migration 0002, re-applied after every migration so that new
-- tables, views and functions are covered. Skipped where the roles could not be created,
-- and while 0002_roles is rolled back (the roles belong to the whole server, so they may
-- outlive the migration).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM evaltool._yoyo_migration WHERE migration_id = '0002_roles') THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'evaltool_reader') THEN
        GRANT USAGE ON SCHEMA evaltool TO evaltool_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA evaltool TO evaltool_reader;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA evaltool TO evaltool_reader;
        -- Refreshing writes refresh_log, and recomputing run_metric_stats writes it: not a
        -- reader's to do. (Readers keep SELECT on run_metric_stats, granted above.)
        IF to_regprocedure('evaltool.refresh_aggregates(boolean)') IS NOT NULL THEN
            REVOKE EXECUTE ON FUNCTION evaltool.refresh_aggregates(boolean) FROM evaltool_reader;
        END IF;
        IF to_regprocedure('evaltool.update_run_stats(bigint[])') IS NOT NULL THEN
            REVOKE EXECUTE ON FUNCTION evaltool.update_run_stats(bigint[]) FROM evaltool_reader;
        END IF;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'evaltool_writer') THEN
        GRANT USAGE ON SCHEMA evaltool TO evaltool_writer;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA evaltool TO evaltool_writer;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA evaltool TO evaltool_writer;
        -- Never granted, and taken back should anyone grant them: TRUNCATE fires no DELETE
        -- trigger (the audit log and score_history would miss the rows), and TRIGGER would
        -- let a writer add triggers of their own to audited tables.
        REVOKE TRUNCATE, TRIGGER ON ALL TABLES IN SCHEMA evaltool FROM evaltool_writer;
        -- The audit log is written by a SECURITY DEFINER trigger; writers may only read it.
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON evaltool.audit_log FROM evaltool_writer;
        -- Likewise the per-run statistics (0012), written by SECURITY DEFINER triggers from
        -- the scores: a writer's own rows there would not match them.
        IF to_regclass('evaltool.run_stats_stale') IS NOT NULL THEN
            REVOKE INSERT, UPDATE, DELETE, TRUNCATE
                ON evaltool.run_metric_stats, evaltool.run_stats_stale FROM evaltool_writer;
        END IF;
        -- And the cost ledger (0016), written by SECURITY DEFINER triggers on response.
        IF to_regclass('evaltool.cost_ledger') IS NOT NULL THEN
            REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON evaltool.cost_ledger FROM evaltool_writer;
        END IF;
        -- Migration bookkeeping changes only through evaltool db migrate.
        -- Refreshes run as the owner (SECURITY DEFINER) and are writers' to start.
        IF to_regprocedure('evaltool.refresh_aggregates(boolean)') IS NOT NULL THEN
            GRANT EXECUTE ON FUNCTION evaltool.refresh_aggregates(boolean) TO evaltool_writer;
        END IF;
        IF to_regprocedure('evaltool.update_run_stats(bigint[])') IS NOT NULL THEN
            GRANT EXECUTE ON FUNCTION evaltool.update_run_stats(bigint[]) TO evaltool_writer;
        END IF;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON evaltool._yoyo_migration, evaltool._yoyo_log,
            evaltool._yoyo_version, evaltool.yoyo_lock FROM evaltool_writer;
    END IF;
END
$$;
