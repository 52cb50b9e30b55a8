-- 0012_run_metric_stats: per-run metric statistics kept up to date incrementally, instead
-- of a materialized view that every refresh recomputed over the whole history.
-- run_metric_stats becomes a table of run_metric_summary's rows; triggers on score and
-- response (sql/81_fn_run_stats.sql) mark the runs whose scores changed in
-- run_stats_stale, and a deferred trigger recomputes those runs alone at commit. Every run
-- already here starts stale: evaltool refresh (or its first change) computes it.
-- The view model_performance reads run_metric_stats, so it goes too; sql/ defines it again.
-- depends: 0011_templates_cache

DROP VIEW IF EXISTS evaltool.model_performance CASCADE;
DROP MATERIALIZED VIEW IF EXISTS evaltool.run_metric_stats CASCADE;

CREATE TABLE evaltool.run_metric_stats (
    run_id         bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    metric         text NOT NULL,
    n              bigint,
    n_passed       bigint,
    pass_rate      double precision,
    pass_rate_low  double precision,
    pass_rate_high double precision,
    mean           double precision,
    stddev         double precision,
    min            double precision,
    max            double precision,
    p50            double precision,
    p95            double precision,
    mean_low       double precision,
    mean_high      double precision,
    scorer         text,
    scorer_version text,
    scored_at      timestamptz,
    n_cases        bigint,
    n_judged       bigint,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, metric)
);

CREATE TABLE evaltool.run_stats_stale (
    run_id    bigint PRIMARY KEY REFERENCES evaltool.run (id) ON DELETE CASCADE,
    marked_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO evaltool.run_stats_stale (run_id) SELECT id FROM evaltool.run;

COMMENT ON TABLE evaltool.run_metric_stats IS 'run_metric_summary''s rows, stored: per-run per-metric statistics for dashboards and reports, recomputed for a run when its scores change (at the commit of the change; see run_stats_stale).';
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
COMMENT ON COLUMN evaltool.run_metric_stats.computed_at IS 'When the run''s statistics were last computed (the transaction time of the change, or of the refresh, that computed them).';

COMMENT ON TABLE evaltool.run_stats_stale IS 'Runs whose scores changed since their run_metric_stats rows were computed. Filled by triggers on score and response; each row is recomputed and removed at the commit of the transaction that added it (evaltool.update_run_stats), so rows remain only where no trigger ran (runs that existed before migration 0012, writes with triggers disabled) until evaltool refresh computes them.';
COMMENT ON COLUMN evaltool.run_stats_stale.run_id IS 'The run whose statistics are out of date.';
COMMENT ON COLUMN evaltool.run_stats_stale.marked_at IS 'When it was first marked stale.';

-- refresh_aggregates logs run_metric_stats's recompute in refresh_log as well.
COMMENT ON COLUMN evaltool.refresh_log.view_name IS 'Aggregate refreshed, schema-qualified: a materialized view, or evaltool.run_metric_stats for its stale runs.';
COMMENT ON COLUMN evaltool.refresh_log.concurrent IS 'Whether REFRESH ... CONCURRENTLY was asked for (readers were not blocked); recomputing run_metric_stats never blocks readers.';
COMMENT ON COLUMN evaltool.refresh_log.rows IS 'Rows in the materialized view after the refresh; for evaltool.run_metric_stats, the stale runs recomputed.';
