-- requires: 0005_scoring
-- requires: 0009_repeats
-- evaltool.run_metric_stats: the materialized copy of run_metric_summary, with the unique
-- index that REFRESH ... CONCURRENTLY needs, and evaltool.refresh_aggregates to refresh it.
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
    -- model_performance (below) reads it and is re-created below.
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

-- Dashboards over the materialized statistics.
CREATE OR REPLACE VIEW evaltool.model_performance AS
SELECT m.name AS model, d.name AS dataset, d.version AS dataset_version, s.metric,
       count(*) AS runs,
       avg(s.pass_rate) AS mean_pass_rate,
       avg(s.mean) AS mean_value,
       (array_agg(s.pass_rate ORDER BY r.created_at DESC, r.id DESC))[1] AS latest_pass_rate,
       (array_agg(s.mean ORDER BY r.created_at DESC, r.id DESC))[1] AS latest_value,
       max(r.id) AS latest_run_id,
       max(r.created_at) AS latest_run_at
FROM evaltool.run_metric_stats s
JOIN evaltool.run r ON r.id = s.run_id
JOIN evaltool.model m ON m.id = r.model_id
JOIN evaltool.dataset d ON d.id = r.dataset_id
WHERE r.status = 'completed'
GROUP BY m.name, d.name, d.version, s.metric;

COMMENT ON VIEW evaltool.model_performance IS
    'Per model, dataset and metric over completed runs, from run_metric_stats (as of its last refresh): how many runs, mean pass rate and value across them, and the latest run''s.';
COMMENT ON COLUMN evaltool.model_performance.model IS 'Registry name of the model.';
COMMENT ON COLUMN evaltool.model_performance.dataset IS 'Dataset name.';
COMMENT ON COLUMN evaltool.model_performance.dataset_version IS 'Dataset version.';
COMMENT ON COLUMN evaltool.model_performance.metric IS 'Metric name.';
COMMENT ON COLUMN evaltool.model_performance.runs IS 'Completed runs with this metric.';
COMMENT ON COLUMN evaltool.model_performance.mean_pass_rate IS 'Mean of the runs'' pass rates.';
COMMENT ON COLUMN evaltool.model_performance.mean_value IS 'Mean of the runs'' mean values.';
COMMENT ON COLUMN evaltool.model_performance.latest_pass_rate IS 'Pass rate of the latest run.';
COMMENT ON COLUMN evaltool.model_performance.latest_value IS 'Mean value of the latest run.';
COMMENT ON COLUMN evaltool.model_performance.latest_run_id IS 'The latest run.';
COMMENT ON COLUMN evaltool.model_performance.latest_run_at IS 'When the latest run was created.';
