-- requires: 0009_repeats
-- requires: 0013_partition_by_run
-- evaltool.compare_runs and evaltool.regressions: is a candidate run worse than its baseline,
-- per metric (and slice), with the paired tests of 71_fn_paired_tests.sql, and on which test
-- cases. Built in two steps: compare_stats tests each row of one candidate, and
-- compare_candidates adjusts the rows of one or several candidates together and judges them;
-- compare_runs is compare_candidates with one candidate.

DROP FUNCTION IF EXISTS evaltool.compare_runs(bigint, bigint, double precision);
-- The result gained repeat_gain (0010): a function's result type cannot be replaced.
DO $$
DECLARE
    f regprocedure := to_regprocedure('evaltool.compare_runs(bigint, bigint, double precision, text, text, jsonb, text, text, text[])');
BEGIN
    IF f IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_proc WHERE oid = f AND 'repeat_gain' = ANY (proargnames)) THEN
        EXECUTE format('DROP FUNCTION %s', f);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION evaltool.compare_stats(baseline bigint, candidate bigint,
                                                  missing text DEFAULT 'worst',
                                                  margins jsonb DEFAULT NULL,
                                                  slice_by text DEFAULT NULL,
                                                  cluster_by text DEFAULT NULL,
                                                  metrics text[] DEFAULT NULL)
    RETURNS TABLE (ord bigint, metric text, slice text, method text, n_paired bigint,
                   n_imputed bigint, n_baseline_only bigint, n_candidate_only bigint,
                   baseline_mean double precision, candidate_mean double precision,
                   delta double precision, se double precision, df double precision,
                   worse bigint, better bigint, p_value double precision,
                   margin double precision, repeat_gain double precision)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
DECLARE
    slice_path text[];
    cluster_path text[];
    slice_join text := '';
    slice_expr text := 'NULL::text';
    cluster_expr text := 'NULL::text';
    groups text;
    slices bigint;
    max_slices constant integer := 1000;
    repeated boolean;
    pairs text;
BEGIN
    IF missing IS NULL OR missing NOT IN ('worst', 'ignore') THEN
        RAISE EXCEPTION 'missing must be worst or ignore, not %', missing USING ERRCODE = '22023';
    END IF;
    IF margins IS NOT NULL AND NOT (
           (jsonb_typeof(margins) = 'number' AND margins::text::double precision >= 0)
           OR (jsonb_typeof(margins) = 'object'
               AND NOT EXISTS (SELECT FROM jsonb_each(margins) e
                               WHERE jsonb_typeof(e.value) <> 'number'
                                  OR e.value::text::double precision < 0))) THEN
        RAISE EXCEPTION 'margins must be a number or an object of numbers, none negative, not %',
            margins USING ERRCODE = '22023';
    END IF;
    IF slice_by IS NOT NULL AND slice_by <> 'tag' AND slice_by !~ '^metadata\.[^.]+(\.[^.]+)*$' THEN
        RAISE EXCEPTION 'slice_by must be tag or metadata.KEY, not %', slice_by
            USING ERRCODE = '22023';
    END IF;
    IF cluster_by IS NOT NULL AND cluster_by !~ '^metadata\.[^.]+(\.[^.]+)*$' THEN
        RAISE EXCEPTION 'cluster_by must be metadata.KEY, not %', cluster_by
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM evaltool.run r WHERE r.id = baseline) THEN
        RAISE EXCEPTION 'no run %', baseline USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM evaltool.run r WHERE r.id = candidate) THEN
        RAISE EXCEPTION 'no run %', candidate USING ERRCODE = '22023';
    END IF;

    -- The prompt table is joined only for slices or clusters: the plain comparison of a
    -- million pairs stays one pass over the two runs' scores.
    IF slice_by = 'tag' THEN
        slice_join := 'CROSS JOIN LATERAL (SELECT NULL::text UNION ALL SELECT unnest(pr.tags)) s(v)';
        slice_expr := 's.v';
    ELSIF slice_by IS NOT NULL THEN
        slice_path := string_to_array(substr(slice_by, 10), '.');
        slice_join := 'CROSS JOIN LATERAL (SELECT NULL::text UNION ALL
                                           SELECT pr.metadata #>> $4 WHERE pr.metadata #>> $4 IS NOT NULL) s(v)';
        slice_expr := 's.v';
    END IF;
    IF cluster_by IS NOT NULL THEN
        -- A test case without the key is a cluster of its own.
        cluster_path := string_to_array(substr(cluster_by, 10), '.');
        cluster_expr := 'coalesce(''='' || (pr.metadata #>> $5), ''#'' || c.prompt_id)';
    END IF;
    IF slice_by IS NOT NULL OR cluster_by IS NOT NULL THEN
        slice_join := 'JOIN evaltool.prompt pr ON pr.id = c.prompt_id ' || slice_join;
    END IF;
    IF slice_by IS NOT NULL THEN
        -- Every slice is a row with its own test, inside the correction: thousands of them
        -- are no verdict anyone reads, and take minutes. A key that groups test cases
        -- (documents, conversations) is what clusters are for.
        SELECT count(DISTINCT v) INTO slices
        FROM evaltool.response r
        JOIN evaltool.prompt pr ON pr.id = r.prompt_id
        CROSS JOIN LATERAL (SELECT unnest(pr.tags) WHERE slice_by = 'tag'
                            UNION ALL
                            SELECT pr.metadata #>> slice_path WHERE slice_by <> 'tag') s(v)
        WHERE r.run_id = baseline;
        IF slices > max_slices THEN
            RAISE EXCEPTION '% has % values in run %: a verdict per slice is for at most % groups',
                slice_by, slices, baseline, max_slices USING ERRCODE = '22023',
                HINT = 'to treat test cases that share a value as one unit, use --cluster (cluster_by)';
        END IF;
    END IF;

    -- Runs with repeats compare each test case's mean over its samples; runs without keep
    -- the one pass over the pairs of scores.
    SELECT bool_or(r.repeats > 1) INTO repeated
    FROM evaltool.run r WHERE r.id IN (baseline, candidate);
    IF repeated THEN
        pairs := $p$
        -- Repeats: the test case is the unit. Each side's samples of a case become one
        -- value, its pass rate (a pass/fail metric, whose worst is 0) or its mean, and
        -- the pairs are compared as values. wgain is what one sample per side would add
        -- to the variance of the case's difference: s2 (1 - 1/k) per side.
        SELECT coalesce(b.metric, c.metric) AS metric, coalesce(b.prompt_id, c.prompt_id) AS prompt_id,
               b.metric IS NOT NULL AS has_b, c.metric IS NOT NULL AS has_c,
               NULL::boolean AS bp, NULL::boolean AS cp,
               CASE WHEN b.rate THEN b.p_mean ELSE b.v_mean END AS bv,
               CASE WHEN c.rate THEN c.p_mean ELSE c.v_mean END AS cv,
               CASE WHEN b.rate OR c.rate THEN 0::double precision END AS floor,
               CASE WHEN b.rate THEN b.p_gain ELSE b.v_gain END
                 + CASE WHEN c.rate THEN c.p_gain ELSE c.v_gain END AS wgain
        FROM (SELECT x.prompt_id, x.metric, bool_and(x.passed IS NOT NULL) AS rate,
                     avg(x.passed::integer) AS p_mean, avg(x.v) AS v_mean,
                     coalesce(var_samp(x.passed::integer), 0) * (1 - 1.0 / nullif(count(x.passed), 0)) AS p_gain,
                     coalesce(var_samp(x.v), 0) * (1 - 1.0 / nullif(count(x.v), 0)) AS v_gain
              FROM (SELECT r.prompt_id, s.metric, s.passed,
                           CASE WHEN r.status = 'ok' THEN s.value END AS v
                    FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
                    WHERE r.run_id = $1 AND ($7::text[] IS NULL OR s.metric = ANY ($7))) x
              GROUP BY x.prompt_id, x.metric) b
        FULL JOIN (SELECT x.prompt_id, x.metric, bool_and(x.passed IS NOT NULL) AS rate,
                          avg(x.passed::integer) AS p_mean, avg(x.v) AS v_mean,
                          coalesce(var_samp(x.passed::integer), 0) * (1 - 1.0 / nullif(count(x.passed), 0)) AS p_gain,
                          coalesce(var_samp(x.v), 0) * (1 - 1.0 / nullif(count(x.v), 0)) AS v_gain
                   FROM (SELECT r.prompt_id, s.metric, s.passed,
                                CASE WHEN r.status = 'ok' THEN s.value END AS v
                         FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
                         WHERE r.run_id = $2 AND ($7::text[] IS NULL OR s.metric = ANY ($7))) x
                   GROUP BY x.prompt_id, x.metric) c
          ON c.prompt_id = b.prompt_id AND c.metric = b.metric
        UNION ALL
        -- Availability: the share of a case's calls that succeeded.
        SELECT 'availability', coalesce(b.prompt_id, c.prompt_id), b.prompt_id IS NOT NULL,
               c.prompt_id IS NOT NULL, NULL, NULL, b.share, c.share, 0, b.gain + c.gain
        FROM (SELECT prompt_id, avg((status = 'ok')::integer) AS share,
                     coalesce(var_samp((status = 'ok')::integer), 0) * (1 - 1.0 / count(*)) AS gain
              FROM evaltool.response WHERE run_id = $1 GROUP BY prompt_id) b
        FULL JOIN (SELECT prompt_id, avg((status = 'ok')::integer) AS share,
                          coalesce(var_samp((status = 'ok')::integer), 0) * (1 - 1.0 / count(*)) AS gain
                   FROM evaltool.response WHERE run_id = $2 GROUP BY prompt_id) c
          ON c.prompt_id = b.prompt_id$p$;
    ELSE
        pairs := $p$
        SELECT coalesce(b.metric, c.metric) AS metric, coalesce(b.prompt_id, c.prompt_id) AS prompt_id,
               b.metric IS NOT NULL AS has_b, c.metric IS NOT NULL AS has_c,
               b.passed AS bp, c.passed AS cp,
               -- an error response has no value on a continuous metric
               CASE WHEN b.ok THEN b.value END AS bv, CASE WHEN c.ok THEN c.value END AS cv,
               NULL::double precision AS floor, NULL::double precision AS wgain
        FROM (SELECT r.prompt_id, s.metric, s.value, s.passed, r.status = 'ok' AS ok
              FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
              WHERE r.run_id = $1 AND ($7::text[] IS NULL OR s.metric = ANY ($7))) b
        FULL JOIN (SELECT r.prompt_id, s.metric, s.value, s.passed, r.status = 'ok' AS ok
                   FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
                   WHERE r.run_id = $2 AND ($7::text[] IS NULL OR s.metric = ANY ($7))) c
          ON c.prompt_id = b.prompt_id AND c.metric = b.metric
        UNION ALL
        -- Availability: did the call succeed, as a pass/fail metric of its own.
        SELECT 'availability', coalesce(b.prompt_id, c.prompt_id), b.prompt_id IS NOT NULL,
               c.prompt_id IS NOT NULL, b.status = 'ok', c.status = 'ok', NULL, NULL, NULL, NULL
        FROM (SELECT prompt_id, status FROM evaltool.response WHERE run_id = $1) b
        FULL JOIN (SELECT prompt_id, status FROM evaltool.response WHERE run_id = $2) c
          ON c.prompt_id = b.prompt_id$p$;
    END IF;

    IF cluster_by IS NULL THEN
        -- Each test case is its own unit: the spread of the differences gives the t interval.
        groups := $g$
        SELECT u.metric, u.slice, CASE WHEN u.pf THEN 'tango' ELSE 't' END AS method,
               u.n, u.n_imputed, u.n_baseline_only, u.n_candidate_only, u.won, u.lost,
               u.b_sum / nullif(u.n, 0) AS bm, u.c_sum / nullif(u.n, 0) AS cm,
               u.d_sum / nullif(u.n, 0) AS est,
               sqrt(u.m2 / nullif(u.n - 1, 0) / nullif(u.n, 0)) AS se,
               (u.n - 1)::double precision AS df,
               CASE WHEN u.won + u.lost < 25 THEN u.small END AS small,
               -- how many times the test cases a one-sample comparison would need for the
               -- same precision: (observed variance + what single samples add) / observed
               1 + (u.wgain / nullif(u.n, 0)) / nullif(u.m2 / nullif(u.n - 1, 0), 0) AS gain
        FROM units u$g$;
    ELSE
        -- Cluster-robust: the clusters are the units, their totals what varies (CR1 variance,
        -- t with clusters - 1 degrees of freedom, sign flips of whole clusters).
        groups := $g$
        SELECT u.metric, u.slice, 'cluster_t' AS method,
               sum(u.n)::bigint AS n, sum(u.n_imputed)::bigint AS n_imputed,
               sum(u.n_baseline_only)::bigint AS n_baseline_only,
               sum(u.n_candidate_only)::bigint AS n_candidate_only,
               sum(u.won)::bigint AS won, sum(u.lost)::bigint AS lost,
               sum(u.b_sum) / nullif(sum(u.n), 0) AS bm, sum(u.c_sum) / nullif(sum(u.n), 0) AS cm,
               max(u.est) AS est,
               sqrt(count(*) FILTER (WHERE u.n > 0)::double precision
                    / nullif(count(*) FILTER (WHERE u.n > 0) - 1, 0)
                    * sum((u.d_sum - u.n * u.est) ^ 2) FILTER (WHERE u.n > 0))
                 / nullif(sum(u.n), 0) AS se,
               (count(*) FILTER (WHERE u.n > 0) - 1)::double precision AS df,
               CASE WHEN count(*) FILTER (WHERE round(u.d_sum * 1e9) <> 0) < 25
                    THEN array_agg(u.d_sum) FILTER (WHERE round(u.d_sum * 1e9) <> 0) END AS small,
               NULL::double precision AS gain
        FROM (SELECT x.*, sum(x.d_sum) OVER w / nullif(sum(x.n) OVER w, 0) AS est
              FROM units x WINDOW w AS (PARTITION BY x.metric, x.slice)) u
        GROUP BY u.metric, u.slice$g$;
    END IF;

    -- One pass over the pairs of scores (and of responses, for availability) aggregates each
    -- metric both ways, as pass/fail and as values; which it is, and its worst value, are
    -- known only once every score is seen, and are applied to the small aggregated rows.
    RETURN QUERY EXECUTE format($q$
    WITH pairs AS (%s
    ), lvl1 AS (
        SELECT x.metric, x.slice, x.cluster,
               -- pass/fail where every score has a verdict; the worst value of an answer
               bool_and((NOT x.has_b OR x.bp IS NOT NULL) AND (NOT x.has_c OR x.cp IS NOT NULL))
                 AS pass_fail,
               least(min(x.bv), min(x.cv), min(x.floor)) AS worst,
               -- as pass/fail
               count(*) FILTER (WHERE x.bp IS NOT NULL AND x.cp IS NOT NULL) AS pf_n,
               count(*) FILTER (WHERE NOT x.bp AND x.cp) AS pf_won,
               count(*) FILTER (WHERE x.bp AND NOT x.cp) AS pf_lost,
               count(*) FILTER (WHERE x.bp AND x.cp IS NOT NULL) AS pf_b,
               count(*) FILTER (WHERE x.cp AND x.bp IS NOT NULL) AS pf_c,
               count(*) FILTER (WHERE x.bp IS NOT NULL AND x.cp IS NULL) AS pf_bo,
               count(*) FILTER (WHERE x.bp AND x.cp IS NULL) AS pf_bo_passed,
               count(*) FILTER (WHERE x.cp IS NOT NULL AND x.bp IS NULL) AS pf_co,
               -- as values
               count(x.d) AS v_n, coalesce(sum(x.d), 0) AS v_dsum, var_samp(x.d) AS v_dvar,
               count(*) FILTER (WHERE x.d > 0) AS v_won, count(*) FILTER (WHERE x.d < 0) AS v_lost,
               coalesce(sum(x.bv) FILTER (WHERE x.d IS NOT NULL), 0) AS v_bsum,
               coalesce(sum(x.cv) FILTER (WHERE x.d IS NOT NULL), 0) AS v_csum,
               array_agg(x.d) FILTER (WHERE x.d <> 0) AS v_small,
               array_agg(x.bv) FILTER (WHERE x.bv IS NOT NULL AND x.cv IS NULL) AS v_bo,
               sum(x.wgain) FILTER (WHERE x.d IS NOT NULL) AS v_wgain,
               count(*) FILTER (WHERE x.cv IS NOT NULL AND x.bv IS NULL) AS v_co
        FROM (SELECT c.*, %s AS slice, %s AS cluster,
                     -- differences at 9 decimals: 0.6 - 0.4 and 0.3 - 0.1 are one size
                     round((c.cv - c.bv) * 1e9) / 1e9 AS d
              FROM pairs c %s) x
        GROUP BY x.metric, x.slice, x.cluster
    ), kinds AS (
        SELECT l.*, bool_and(l.pass_fail) OVER m AS pf, min(l.worst) OVER m AS metric_worst
        FROM lvl1 l WINDOW m AS (PARTITION BY l.metric)
    ), units AS (
        -- Policy "worst": a case the baseline has and the candidate lacks counts as a
        -- failure, or as the metric's worst value. Cases the baseline lacks are left out.
        SELECT k.metric, k.slice, k.cluster, k.pf,
               CASE WHEN k.pf THEN k.pf_n + i.pf_n ELSE k.v_n + i.n END AS n,
               CASE WHEN k.pf THEN i.pf_n ELSE i.n END AS n_imputed,
               CASE WHEN k.pf THEN k.pf_bo ELSE coalesce(cardinality(k.v_bo), 0) END
                 AS n_baseline_only,
               CASE WHEN k.pf THEN k.pf_co ELSE k.v_co END AS n_candidate_only,
               CASE WHEN k.pf THEN k.pf_won ELSE k.v_won END AS won,
               CASE WHEN k.pf THEN k.pf_lost + i.pf_lost ELSE k.v_lost + i.lost END AS lost,
               CASE WHEN k.pf THEN k.pf_b + i.pf_lost ELSE k.v_bsum + i.b_sum END AS b_sum,
               CASE WHEN k.pf THEN k.pf_c ELSE k.v_csum + i.n * k.metric_worst END AS c_sum,
               CASE WHEN k.pf THEN k.pf_won - k.pf_lost - i.pf_lost ELSE k.v_dsum + i.d_sum END
                 AS d_sum,
               -- the sum of squared deviations, of both parts and between them
               CASE WHEN k.pf
                    THEN (k.pf_won + k.pf_lost + i.pf_lost)
                         - (k.pf_won - k.pf_lost - i.pf_lost) ^ 2
                           / nullif(k.pf_n + i.pf_n, 0)::double precision
                    ELSE coalesce(k.v_dvar * (k.v_n - 1), 0) + coalesce(i.d_var * (i.n - 1), 0)
                         + CASE WHEN k.v_n > 0 AND i.n > 0
                                THEN k.v_n * i.n / (k.v_n + i.n)::double precision
                                     * (k.v_dsum / k.v_n - i.d_sum / i.n) ^ 2 ELSE 0 END
               END AS m2,
               CASE WHEN NOT k.pf THEN coalesce(k.v_small, '{}') || coalesce(i.small, '{}') END
                 AS small,
               CASE WHEN NOT k.pf THEN k.v_wgain END AS wgain
        FROM kinds k
        CROSS JOIN LATERAL (
            -- the imputed cases of the baseline: as pass/fail, every one fails; as values,
            -- every one takes the worst value (few cases, as a rule)
            SELECT CASE WHEN $3 = 'worst' THEN k.pf_bo ELSE 0 END AS pf_n,
                   CASE WHEN $3 = 'worst' THEN k.pf_bo_passed ELSE 0 END AS pf_lost,
                   count(z.d) AS n, coalesce(sum(z.d), 0) AS d_sum, var_samp(z.d) AS d_var,
                   count(*) FILTER (WHERE z.d < 0) AS lost, coalesce(sum(z.bv), 0) AS b_sum,
                   array_agg(z.d) FILTER (WHERE z.d <> 0) AS small
            FROM (SELECT v AS bv, round((k.metric_worst - v) * 1e9) / 1e9 AS d
                  FROM unnest(k.v_bo) v WHERE $3 = 'worst' AND NOT k.pf) z
        ) i
    ), grouped AS (%s
    ), tested AS (
        SELECT g.*, row_number() OVER (ORDER BY g.metric = 'availability', g.metric,
                                                g.slice NULLS FIRST) AS k,
               -- Rows without a single case answered and scored in both runs have no test:
               -- imputed failures alone (a metric never scored, another dataset) prove nothing.
               CASE WHEN g.n > g.n_imputed
                    THEN evaltool.paired_p(g.method, g.won, g.lost, g.est, g.se, g.df, g.small)
               END AS p,
               CASE WHEN g.metric <> 'availability' AND jsonb_typeof($6) = 'number'
                    THEN $6::text::double precision
                    ELSE coalesce($6 ->> g.metric,
                                  CASE WHEN g.metric <> 'availability' THEN $6 ->> '*' END
                                 )::double precision
               END AS margin
        FROM grouped g
    )
    SELECT t.k, t.metric, t.slice, t.method, t.n, t.n_imputed, t.n_baseline_only,
           t.n_candidate_only, t.bm, t.cm, t.est, t.se::double precision,
           t.df::double precision, t.lost, t.won, t.p, t.margin, CASE WHEN $8 THEN t.gain END
    FROM tested t
    ORDER BY t.k$q$, pairs, slice_expr, cluster_expr, slice_join, groups)
    USING baseline, candidate, missing, slice_path, cluster_path, margins, metrics, repeated;
END
$$;

COMMENT ON FUNCTION evaltool.compare_stats(bigint, bigint, text, jsonb, text, text, text[]) IS
    'The rows of compare_runs before the correction for testing them together: per metric (and slice), in the order ord, the pairs, missing cases, means, delta with its standard error se and degrees of freedom df (the inputs of paired_interval), cases worse and better, the unadjusted p-value (NULL where no case is answered and scored in both runs), the margin that applies and repeat_gain. compare_candidates adjusts the rows of one or several candidates together and judges them; the arguments are those of compare_runs.';

CREATE OR REPLACE FUNCTION evaltool.compare_candidates(baseline bigint, candidates bigint[],
                                                       alpha double precision DEFAULT 0.05,
                                                       missing text DEFAULT 'worst',
                                                       correction text DEFAULT 'holm',
                                                       margins jsonb DEFAULT NULL,
                                                       slice_by text DEFAULT NULL,
                                                       cluster_by text DEFAULT NULL,
                                                       metrics text[] DEFAULT NULL)
    RETURNS TABLE (candidate bigint, metric text, slice text, method text, n_paired bigint,
                   n_imputed bigint, n_baseline_only bigint, n_candidate_only bigint,
                   baseline_mean double precision, candidate_mean double precision,
                   delta double precision, ci_low double precision, ci_high double precision,
                   ci_level double precision, worse bigint, better bigint,
                   p_value double precision, p_adjusted double precision,
                   margin double precision, mde double precision, verdict text,
                   gate_passed boolean, repeat_gain double precision)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
BEGIN
    IF alpha IS NULL OR alpha <= 0 OR alpha >= 1 THEN
        RAISE EXCEPTION 'alpha must be between 0 and 1, not %', alpha USING ERRCODE = '22023';
    END IF;
    IF missing IS NULL OR missing NOT IN ('worst', 'ignore') THEN
        RAISE EXCEPTION 'missing must be worst or ignore, not %', missing USING ERRCODE = '22023';
    END IF;
    IF correction IS NULL OR correction NOT IN ('holm', 'bh', 'none') THEN
        RAISE EXCEPTION 'correction must be holm, bh or none, not %', correction
            USING ERRCODE = '22023';
    END IF;
    IF coalesce(cardinality(candidates), 0) = 0 THEN
        RAISE EXCEPTION 'candidates must name at least one run' USING ERRCODE = '22023';
    END IF;
    IF (SELECT count(DISTINCT c) <> count(c) FROM unnest(candidates) c) THEN
        RAISE EXCEPTION 'candidates must name each run once, not %', candidates
            USING ERRCODE = '22023';
    END IF;

    -- The rows of every candidate are one family: 4 candidates on 3 metrics are 12 tests,
    -- adjusted together (multiplicity), and each interval is drawn at its row's level.
    RETURN QUERY
    WITH tested AS (
        SELECT c.run_id AS cand, s.*, row_number() OVER (ORDER BY c.i, s.ord) AS k
        FROM unnest(candidates) WITH ORDINALITY AS c(run_id, i)
        CROSS JOIN LATERAL evaltool.compare_stats(baseline, c.run_id, missing, margins,
                                                  slice_by, cluster_by, metrics) s
    ), family AS (
        -- A row where no pair differs cannot reject (its exact p is 1 whatever happens) and
        -- takes no part in the family (Tarone): identical availability does not halve alpha.
        SELECT m.*
        FROM (SELECT array_agg(CASE WHEN t.worse + t.better > 0 THEN t.p_value END
                               ORDER BY t.k) AS ps
              FROM tested t) a
        CROSS JOIN LATERAL evaltool.multiplicity(a.ps, alpha, correction) m
    ), judged AS (
        SELECT t.*, coalesce(f.p_adjusted, t.p_value) AS p_adj,
               coalesce(f.level_alpha, alpha) AS level_alpha,
               -- Where the adjusted test keeps "no difference", so does the interval.
               CASE WHEN f.p_adjusted < alpha OR i.low IS NULL THEN i.low
                    ELSE least(i.low, 0) END AS low,
               CASE WHEN f.p_adjusted < alpha OR i.high IS NULL THEN i.high
                    ELSE greatest(i.high, 0) END AS high
        FROM tested t
        JOIN family f ON f.ord = t.k
        LEFT JOIN LATERAL evaltool.paired_interval(t.method, t.n_paired, t.better, t.worse,
                                                   t.delta, t.se, t.df,
                                                   coalesce(f.level_alpha, alpha)) i
          ON t.n_paired > t.n_imputed
    )
    SELECT j.cand, j.metric, j.slice, j.method, j.n_paired, j.n_imputed, j.n_baseline_only,
           j.n_candidate_only, j.baseline_mean, j.candidate_mean, j.delta, j.low, j.high,
           1 - j.level_alpha, j.worse, j.better, j.p_value, j.p_adj, j.margin,
           evaltool.min_detectable_effect(
               CASE WHEN j.method = 'tango'
                    THEN sqrt(greatest(j.worse + j.better, 1)) / j.n_paired
                    ELSE j.se END, j.level_alpha, 0.8),
           v.verdict,
           CASE WHEN j.n_paired = j.n_imputed THEN NULL
                ELSE NOT (v.verdict = 'worse'
                          OR (coalesce(j.margin, 0) > 0 AND v.verdict = 'inconclusive')) END,
           j.repeat_gain
    FROM judged j
    CROSS JOIN LATERAL (SELECT CASE WHEN j.n_paired = j.n_imputed THEN 'no paired data'
                                    ELSE evaltool.verdict(j.low, j.high, j.margin) END) v(verdict)
    ORDER BY j.k;
END
$$;

COMMENT ON FUNCTION evaltool.compare_candidates(bigint, bigint[], double precision, text, text, jsonb, text, text, text[]) IS
    'Several candidate runs, each against one baseline run: the rows of compare_runs for every candidate (in the order given, the column candidate naming it), with p adjusted, intervals drawn and verdicts given over all rows of all candidates as one family (correction holm, bh or none): comparing 4 candidates on 3 metrics is 12 tests. Rows where no pair differs take no part in the correction, as in compare_runs. Each candidate once; the other arguments are those of compare_runs, which is this function with one candidate.';

CREATE OR REPLACE FUNCTION evaltool.compare_runs(baseline bigint, candidate bigint,
                                                 alpha double precision DEFAULT 0.05,
                                                 missing text DEFAULT 'worst',
                                                 correction text DEFAULT 'holm',
                                                 margins jsonb DEFAULT NULL,
                                                 slice_by text DEFAULT NULL,
                                                 cluster_by text DEFAULT NULL,
                                                 metrics text[] DEFAULT NULL)
    RETURNS TABLE (metric text, slice text, method text, n_paired bigint, n_imputed bigint,
                   n_baseline_only bigint, n_candidate_only bigint,
                   baseline_mean double precision, candidate_mean double precision,
                   delta double precision, ci_low double precision, ci_high double precision,
                   ci_level double precision, worse bigint, better bigint,
                   p_value double precision, p_adjusted double precision,
                   margin double precision, mde double precision, verdict text,
                   gate_passed boolean, repeat_gain double precision)
    LANGUAGE sql STABLE AS
$$
SELECT c.metric, c.slice, c.method, c.n_paired, c.n_imputed, c.n_baseline_only,
       c.n_candidate_only, c.baseline_mean, c.candidate_mean, c.delta, c.ci_low, c.ci_high,
       c.ci_level, c.worse, c.better, c.p_value, c.p_adjusted, c.margin, c.mde, c.verdict,
       c.gate_passed, c.repeat_gain
FROM evaltool.compare_candidates(baseline, ARRAY[candidate], alpha, missing, correction,
                                 margins, slice_by, cluster_by, metrics) c
$$;

COMMENT ON FUNCTION evaltool.compare_runs(bigint, bigint, double precision, text, text, jsonb, text, text, text[]) IS
    'Candidate run against baseline run, per metric (and per slice with slice_by tag or metadata.KEY; slice NULL is all test cases), plus an availability row (the share of calls that succeeded): n paired, missing cases (baseline_only: scored in the baseline, not in the candidate; with missing => worst they count as failures or as the metric''s worst value, n_imputed; candidate_only are left out), means, delta = candidate - baseline with its interval at ci_level, cases worse and better, p-value and p adjusted over all rows (correction holm, bh or none; compare_candidates adjusts over several candidates), the margin, the minimum detectable effect at 80% power, the verdict (better, worse, not worse than margin, inconclusive; no paired data where no case is answered and scored in both runs) and whether the row passes the gate (not worse, and with a margin not inconclusive). Methods: tango (pass/fail: Tango score interval and McNemar score test), t (continuous: paired t), cluster_t (cluster_by metadata.KEY: cluster-robust t); below 25 non-zero differences the exact sign-flip mid-p is used where larger. Error responses have no value on continuous metrics. With repeats (either run''s repeats > 1) the test case is the unit: each side''s samples of a case become its pass rate (pass/fail metrics, worst value 0) or mean, compared with t (sign flips below 25 differences), and repeat_gain says how many times the test cases a one-sample comparison would need for the same precision (NULL without repeats or with clusters). margins: a number for every metric, or {"metric": m, "*": default}. metrics: only these (availability is always compared).';

CREATE OR REPLACE FUNCTION evaltool.regressions(baseline bigint, candidate bigint,
                                                metric text DEFAULT NULL)
    RETURNS TABLE (metric text, prompt_id bigint, external_id text, input jsonb,
                   expected jsonb, baseline_output text, candidate_output text,
                   baseline_value double precision, candidate_value double precision,
                   baseline_passed boolean, candidate_passed boolean)
    LANGUAGE sql STABLE AS
$$
-- As compare_runs counts them: a case the candidate did not answer, or answered with an
-- error on a continuous metric, or was not scored on, is lost where the baseline had
-- something to lose (a pass, or a value).
SELECT u.metric, u.pid, u.external_id, u.input, u.expected, u.bo, u.co, u.bv, u.cv, u.bp, u.cp
FROM (
SELECT sb.metric, p.id AS pid, p.external_id, p.input, p.expected,
       coalesce(rb.output_text, 'error: ' || rb.error) AS bo,
       CASE WHEN rc.id IS NULL THEN 'no response'
            ELSE coalesce(rc.output_text, 'error: ' || rc.error) END AS co,
       sb.value AS bv, c.value AS cv, sb.passed AS bp, sc.passed AS cp
FROM evaltool.response rb
JOIN evaltool.score sb ON sb.run_id = rb.run_id AND sb.response_id = rb.id
JOIN evaltool.prompt p ON p.id = rb.prompt_id
LEFT JOIN evaltool.response rc ON rc.run_id = candidate AND rc.prompt_id = rb.prompt_id
LEFT JOIN evaltool.score sc ON sc.run_id = rc.run_id AND sc.response_id = rc.id AND sc.metric = sb.metric
CROSS JOIN LATERAL (SELECT CASE WHEN sc.passed IS NOT NULL OR rc.status = 'ok' THEN sc.value END
                   ) AS c(value)
WHERE rb.run_id = baseline
  AND NOT EXISTS (SELECT FROM evaltool.run x WHERE x.id IN (baseline, candidate) AND x.repeats > 1)
  AND (regressions.metric IS NULL OR sb.metric = regressions.metric)
  AND CASE WHEN sb.passed IS NOT NULL THEN sb.passed AND NOT coalesce(sc.passed, false)
           ELSE rb.status = 'ok' AND sb.value IS NOT NULL
                AND (c.value IS NULL OR c.value < sb.value) END
UNION ALL
-- With repeats, per test case: its pass rate (or mean value) over the samples dropped, as
-- compare_runs compares them; the outputs shown are the baseline's best sample and the
-- candidate's worst.
SELECT b.metric, p.id, p.external_id, p.input, p.expected, b.output,
       coalesce(c.output, 'no response'), b.value, c.value, NULL, NULL
FROM (SELECT r.prompt_id, s.metric,
             CASE WHEN bool_and(s.passed IS NOT NULL) THEN avg(s.passed::integer)
                  ELSE avg(CASE WHEN r.status = 'ok' THEN s.value END) END::double precision AS value,
             -- the baseline's best answer, the candidate's worst: what changed
             (array_agg(coalesce(r.output_text, 'error: ' || r.error)
                        ORDER BY s.passed DESC NULLS LAST, s.value DESC NULLS LAST, r.sample))[1]
               AS output
      FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
      WHERE r.run_id = baseline AND (regressions.metric IS NULL OR s.metric = regressions.metric)
      GROUP BY r.prompt_id, s.metric) b
JOIN evaltool.prompt p ON p.id = b.prompt_id
LEFT JOIN (SELECT r.prompt_id, s.metric,
                  CASE WHEN bool_and(s.passed IS NOT NULL) THEN avg(s.passed::integer)
                       ELSE avg(CASE WHEN r.status = 'ok' THEN s.value END) END::double precision AS value,
                  (array_agg(coalesce(r.output_text, 'error: ' || r.error)
                             ORDER BY s.passed ASC NULLS LAST, s.value ASC NULLS LAST, r.sample))[1]
                    AS output
           FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
           WHERE r.run_id = candidate AND (regressions.metric IS NULL OR s.metric = regressions.metric)
           GROUP BY r.prompt_id, s.metric) c ON c.prompt_id = b.prompt_id AND c.metric = b.metric
WHERE EXISTS (SELECT FROM evaltool.run x WHERE x.id IN (baseline, candidate) AND x.repeats > 1)
  AND b.value IS NOT NULL AND (c.value IS NULL OR c.value < b.value)
) u
ORDER BY u.metric, coalesce(u.cv - u.bv, '-Infinity'), u.pid
$$;

COMMENT ON FUNCTION evaltool.regressions(bigint, bigint, text) IS
    'Test cases that got worse from baseline to candidate run, per metric (or only METRIC): passed before and failed, or missing, after; for metrics without pass/fail, a lower value, or none (no response, an error, not scored). With repeats, per test case: its pass rate (or mean) over the samples dropped, with the baseline''s best and the candidate''s worst sample as outputs and baseline_passed/candidate_passed NULL. Missing cases first, then the biggest drops, with input, expected answer and both outputs (candidate_output ''no response'' where there is none).';
