-- refresh_aggregates --
-- Recomputes the stale runs' run_metric_stats, refreshes every materialized view of the
-- schema and logs each (sql/81_fn_run_stats.sql; below 0012 sql/81_matview_run_metric_stats.sql).
SELECT view_name, rows, seconds FROM evaltool.refresh_aggregates(%(concurrent)s)

-- pg_cron_database --
-- Where pg_cron is installed: the database its jobs run in (NULL: no pg_cron here).
SELECT current_database() AS here,
       coalesce(current_setting('cron.database_name', true), 'postgres') AS cron_database
FROM pg_extension WHERE extname = 'pg_cron'

-- pg_cron_schedule --
-- Registers (or updates) the refresh job, in this database.
SELECT cron.schedule_in_database('evaltool-refresh', %(schedule)s,
                                 'SELECT evaltool.refresh_aggregates()', current_database())
