-- requires: 0005_scoring
-- requires: 0009_repeats
-- unless: 0012_run_metric_stats
-- evaltool.run_metric_stats below migration 0012, which makes it a table kept current at
-- each commit (sql/81_fn_run_stats.sql): the materialized copy of run_metric_summary, with
-- the unique index that REFRESH ... CONCURRENTLY needs, and evaltool.refresh_aggregates to
-- refresh it. evaltool.model_performance (sql/81_view_model_performance.sql) reads it.
-- A materialized view holds data, so it is not dropped and re-created on every migrate:
-- only when its definition (this one and run_metric_summary's) changed, as recorded by a
-- fingerprint in its comment.
DO $$
DECLARE
    fingerprint text := md5('SELECT * FROM evaltool.run_metric_summary'
                            || pg_get_viewdef('evaltool.run_metric_summary'::regclass));
    current text := obj_description(to_regclass('evaltool.run_metric_stats'), 'pg_class');
BEGIN
    IF current LIKE '%(definition ' || fingerprint || ')' THEN
        RETURN;
    END IF;
    -- model_performance reads it; sql/81_view_model_performance.sql re-creates it.
    DROP VIEW IF EXISTS evaltool.model_performance;
    DROP MATERIALIZED VIEW IF EXISTS evaltool.run_metric_stats;
    CREATE MATERIALIZED VIEW evaltool.run_metric_stats AS
        SELECT * FROM evaltool.run_metric_summary;
    CREATE UNIQUE INDEX run_metric_stats_run_id_metric_key
        ON evaltool.run_metric_stats (run_id, metric);
    EXECUTE format('COMMENT ON MATERIALIZED VIEW evaltool.run_metric_stats IS %L',
        'Materialized run_metric_summary, as of the last evaltool refresh (see refresh_log): '
        || 'fast per-run per-metric statistics for dashboards and reports. (definition '
        || fingerprint || ')');
END
$$;

COMMENT ON COLUMN evaltool.run_metric_stats.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.run_metric_stats.metric IS 'Metric name.';
COMMENT ON COLUMN evaltool.run_metric_stats.n IS 'Scores of this metric in the run.';
COMMENT ON COLUMN evaltool.run_metric_stats.n_passed IS 'Scores that passed.';
COMMENT ON COLUMN evaltool.run_metric_stats.pass_rate IS 'Passed / scores with a pass/fail verdict; with repeats, the mean of the test cases'' pass rates.';
COMMENT ON COLUMN evaltool.run_metric_stats.pass_rate_low IS 'Lower end of the 95% interval of the pass rate (Wilson''s; with repeats, a t interval over test cases).';
COMMENT ON COLUMN evaltool.run_metric_stats.pass_rate_high IS 'Upper end of the 95% interval of the pass rate.';
COMMENT ON COLUMN evaltool.run_metric_stats.mean IS 'Mean value; with repeats, the mean of the test cases'' means.';
COMMENT ON COLUMN evaltool.run_metric_stats.stddev IS 'Sample standard deviation of the values; with repeats, of the test cases'' means.';
COMMENT ON COLUMN evaltool.run_metric_stats.min IS 'Smallest value.';
COMMENT ON COLUMN evaltool.run_metric_stats.max IS 'Largest value.';
COMMENT ON COLUMN evaltool.run_metric_stats.p50 IS 'Median value; with repeats, of the test cases'' means.';
COMMENT ON COLUMN evaltool.run_metric_stats.p95 IS '95th percentile of the values; with repeats, of the test cases'' means.';
COMMENT ON COLUMN evaltool.run_metric_stats.mean_low IS 'Lower end of the 95% t interval of the mean.';
COMMENT ON COLUMN evaltool.run_metric_stats.mean_high IS 'Upper end of the 95% t interval of the mean.';
COMMENT ON COLUMN evaltool.run_metric_stats.scorer IS 'Scorer that wrote the scores.';
COMMENT ON COLUMN evaltool.run_metric_stats.scorer_version IS 'Scorer version.';
COMMENT ON COLUMN evaltool.run_metric_stats.scored_at IS 'When the last of these scores was written.';
COMMENT ON COLUMN evaltool.run_metric_stats.n_cases IS 'Test cases with a score of this metric (equal to n without repeats).';
COMMENT ON COLUMN evaltool.run_metric_stats.n_judged IS 'Scores with a pass/fail verdict (with repeats: over all samples).';

CREATE OR REPLACE FUNCTION evaltool.refresh_aggregates(concurrent boolean DEFAULT true)
    RETURNS TABLE (view_name text, rows bigint, seconds double precision)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    v regclass;
    started timestamptz;
BEGIN
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
    'Refreshes every materialized view of schema evaltool (CONCURRENTLY by default, so readers are not blocked) and records each refresh in refresh_log. Runs as the schema owner, so evaltool_writer may call it (e.g. from pg_cron).';
