-- requires: 0013_partition_by_run
-- evaltool.plan_sample_size: how many test cases a paired comparison against a baseline run
-- needs to detect a drop of a given size, per metric, with the power functions of
-- 71_fn_paired_tests.sql. Metrics are classified as in compare_runs: pass/fail where every
-- score of the metric has a verdict, else continuous on the value (an error response has
-- no value).
--
-- What a paired test can see depends on the spread of the per-case differences. Without a
-- second run that spread is unknown; the bound used is that of two independent answers,
-- which a candidate that agrees with the baseline on most cases only makes smaller. A
-- rerun of the same model (like_run) shows the spread that the noise alone gives.

CREATE OR REPLACE FUNCTION evaltool.plan_sample_size(baseline bigint, detect double precision,
                                                     alpha double precision DEFAULT 0.05,
                                                     power double precision DEFAULT 0.8,
                                                     like_run bigint DEFAULT NULL)
    RETURNS TABLE (metric text, kind text, n_cases bigint, baseline_mean double precision,
                   sd_diff double precision, basis text, n_needed bigint,
                   mde_now double precision)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
DECLARE
    base_dataset bigint;
    like_dataset bigint;
BEGIN
    IF detect IS NULL OR NOT (detect > 0 AND detect < 'Infinity') THEN
        RAISE EXCEPTION 'detect must be a positive difference on the metric''s scale, not %',
            detect USING ERRCODE = '22023', HINT = '0.02 is 2 points of pass rate';
    END IF;
    IF alpha IS NULL OR NOT (alpha > 0 AND alpha < 1) THEN
        RAISE EXCEPTION 'alpha must be between 0 and 1, not %', alpha USING ERRCODE = '22023';
    END IF;
    IF power IS NULL OR NOT (power > 0 AND power < 1) THEN
        RAISE EXCEPTION 'power must be between 0 and 1, not %', power USING ERRCODE = '22023';
    END IF;
    SELECT r.dataset_id INTO base_dataset FROM evaltool.run r WHERE r.id = baseline;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no run %', baseline USING ERRCODE = '22023';
    END IF;
    IF like_run IS NOT NULL THEN
        SELECT r.dataset_id INTO like_dataset FROM evaltool.run r WHERE r.id = like_run;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no run %', like_run USING ERRCODE = '22023';
        END IF;
        IF like_run = baseline THEN
            RAISE EXCEPTION 'like_run must be another run than the baseline %', baseline
                USING ERRCODE = '22023', HINT = 'a rerun of the same model on the same dataset';
        END IF;
        IF like_dataset IS DISTINCT FROM base_dataset THEN
            RAISE EXCEPTION 'run % is over another dataset than baseline run %', like_run,
                baseline USING ERRCODE = '22023',
                HINT = 'like_run pairs test cases, so it must be a run of the same dataset';
        END IF;
    END IF;

    RETURN QUERY
    WITH sb AS (
        SELECT r.prompt_id, s.metric, s.passed, CASE WHEN r.status = 'ok' THEN s.value END AS value
        FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
        WHERE r.run_id = baseline
    ), kinds AS (
        SELECT b.metric, bool_and(b.passed IS NOT NULL) AS pass_fail
        FROM sb b GROUP BY b.metric
    ), cases AS (
        -- As compare_runs pairs them: a verdict where the metric is pass/fail, else the
        -- value of an answered call.
        SELECT b.metric, b.prompt_id, k.pass_fail,
               CASE WHEN k.pass_fail THEN b.passed::integer ELSE b.value END AS v
        FROM sb b JOIN kinds k ON k.metric = b.metric
    ), own AS (
        SELECT c.metric, bool_and(c.pass_fail) AS pass_fail, count(c.v) AS n,
               avg(c.v) AS mean,
               CASE WHEN count(c.v) < 2 THEN NULL
                    -- the discordance of a candidate at p - detect, drawn independently: it
                    -- holds the drop itself, so a baseline that passes everything has one too
                    WHEN bool_and(c.pass_fail)
                    THEN sqrt(avg(c.v) * (1 - greatest(avg(c.v) - detect, 0))
                              + (1 - avg(c.v)) * greatest(avg(c.v) - detect, 0))
                    -- equal values have no spread, whatever the rounding of their sum
                    WHEN min(c.v) = max(c.v) THEN 0
                    ELSE sqrt(2) * stddev_samp(c.v) END AS sd
        FROM cases c GROUP BY c.metric
    ), paired AS (
        SELECT c.metric, count(*) AS n,
               CASE WHEN bool_and(c.pass_fail)
                    -- the rerun's discordance plus the pairs a drop of detect adds
                    THEN sqrt(count(*) FILTER (WHERE l.v <> c.v)::double precision / count(*)
                              + detect)
                    WHEN min(d.d) = max(d.d) THEN 0
                    ELSE stddev_samp(d.d) END AS sd
        FROM cases c
        JOIN (SELECT r.prompt_id, s.metric, s.passed::integer AS pv,
                     CASE WHEN r.status = 'ok' THEN s.value END AS value
              FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
              WHERE r.run_id = like_run) x
          ON x.prompt_id = c.prompt_id AND x.metric = c.metric
        CROSS JOIN LATERAL (SELECT CASE WHEN c.pass_fail THEN x.pv ELSE x.value END) l(v)
        -- differences at 9 decimals, as in compare_runs: 0.7 - 0.5 and 0.3 - 0.1 are one size
        CROSS JOIN LATERAL (SELECT round((l.v - c.v) * 1e9) / 1e9) d(d)
        WHERE c.v IS NOT NULL AND l.v IS NOT NULL
        GROUP BY c.metric
    ), chosen AS (
        -- Fewer than two paired cases tell nothing of the spread: the bound is kept.
        SELECT o.metric, o.pass_fail, o.n, o.mean,
               CASE WHEN p.n >= 2 THEN p.sd ELSE o.sd END AS sd,
               CASE WHEN p.n >= 2 THEN format('paired with run %s', like_run)
                    WHEN like_run IS NOT NULL
                    THEN format('independent (run %s has %s paired cases)', like_run,
                                coalesce(p.n, 0))
                    ELSE 'independent' END AS basis,
               p.n >= 2 AS is_paired
        FROM own o LEFT JOIN paired p ON p.metric = o.metric
    )
    SELECT c.metric, CASE WHEN c.pass_fail THEN 'pass_fail' ELSE 'continuous' END, c.n,
           c.mean, c.sd,
           c.basis || CASE WHEN c.sd IS NULL THEN ', fewer than 2 cases'
                           WHEN c.sd > 0 THEN ''
                           WHEN c.is_paired THEN ', no case differs'
                           WHEN c.pass_fail THEN ', every case ' || CASE WHEN c.mean > 0
                                                                        THEN 'passed'
                                                                        ELSE 'failed' END
                           ELSE ', every value the same' END,
           -- sample_size(0, ...) divides by 0 where its constant arguments are folded.
           CASE WHEN c.sd > 0 THEN evaltool.sample_size(c.sd, detect, alpha, power) END,
           CASE WHEN c.sd > 0
                THEN evaltool.min_detectable_effect(c.sd / sqrt(c.n), alpha, power) END
    FROM chosen c
    ORDER BY c.metric;
END
$$;

COMMENT ON FUNCTION evaltool.plan_sample_size(bigint, double precision, double precision, double precision, bigint) IS
    'Per metric of run BASELINE: the test cases a paired comparison needs (n_needed) to detect a drop of DETECT on the metric''s scale (0.02: 2 points of pass rate) with the given power at alpha, and the minimum detectable effect with the baseline''s own n_cases (mde_now). kind pass_fail or continuous as in compare_runs; baseline_mean is the pass rate or mean value. sd_diff, the spread of the per-case differences: basis independent, the upper bound of a candidate no more alike the baseline than two independent draws (pass/fail: the discordance sqrt(p (1 - q) + (1 - p) q) of a candidate at q = p - DETECT, which a baseline that passes everything has too; continuous: sqrt(2) times the sd of the values); with LIKE_RUN, a second run of the same dataset (a rerun of the same model), its observed paired spread (pass/fail: sqrt(discordant pairs / pairs + DETECT), the rerun''s discordance and the pairs a drop adds; continuous: the sd of the paired differences). n_needed and mde_now are NULL when sd_diff is 0 or unknown, and basis says why.';
