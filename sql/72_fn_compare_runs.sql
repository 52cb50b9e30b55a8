-- evaltool.compare_runs and evaltool.regressions: is a candidate run worse than its baseline,
-- per metric (and slice), with the paired tests of 71_fn_paired_tests.sql, and on which test
-- cases.

DROP FUNCTION IF EXISTS evaltool.compare_runs(bigint, bigint, double precision);

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
                   gate_passed boolean)
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

    IF cluster_by IS NULL THEN
        -- Each test case is its own unit: the spread of the differences gives the t interval.
        groups := $g$
        SELECT l.metric, l.slice, CASE WHEN l.pass_fail THEN 'tango' ELSE 't' END AS method,
               l.n, l.n_imputed, l.n_baseline_only, l.n_candidate_only, l.won, l.lost,
               l.b_sum / nullif(l.n, 0) AS bm, l.c_sum / nullif(l.n, 0) AS cm,
               l.d_sum / nullif(l.n, 0) AS est, sqrt(l.d_var / l.n) AS se,
               (l.n - 1)::double precision AS df,
               CASE WHEN l.won + l.lost < 25 THEN l.small END AS small
        FROM lvl1 l$g$;
    ELSE
        -- Cluster-robust: the clusters are the units, their totals what varies (CR1 variance,
        -- t with clusters - 1 degrees of freedom, sign flips of whole clusters).
        groups := $g$
        SELECT l.metric, l.slice, 'cluster_t' AS method,
               sum(l.n)::bigint AS n, sum(l.n_imputed)::bigint AS n_imputed,
               sum(l.n_baseline_only)::bigint AS n_baseline_only,
               sum(l.n_candidate_only)::bigint AS n_candidate_only,
               sum(l.won)::bigint AS won, sum(l.lost)::bigint AS lost,
               sum(l.b_sum) / nullif(sum(l.n), 0) AS bm, sum(l.c_sum) / nullif(sum(l.n), 0) AS cm,
               max(l.est) AS est,
               sqrt(count(*) FILTER (WHERE l.n > 0)::double precision
                    / nullif(count(*) FILTER (WHERE l.n > 0) - 1, 0)
                    * sum((l.d_sum - l.n * l.est) ^ 2) FILTER (WHERE l.n > 0))
                 / nullif(sum(l.n), 0) AS se,
               (count(*) FILTER (WHERE l.n > 0) - 1)::double precision AS df,
               CASE WHEN count(*) FILTER (WHERE round(l.d_sum * 1e9) <> 0) < 25
                    THEN array_agg(l.d_sum) FILTER (WHERE round(l.d_sum * 1e9) <> 0) END AS small
        FROM (SELECT x.*, sum(x.d_sum) OVER w / nullif(sum(x.n) OVER w, 0) AS est
              FROM lvl1 x WINDOW w AS (PARTITION BY x.metric, x.slice)) l
        GROUP BY l.metric, l.slice$g$;
    END IF;

    RETURN QUERY EXECUTE format($q$
    WITH sb AS (
        SELECT r.prompt_id, s.metric, s.value, s.passed, r.status = 'ok' AS ok
        FROM evaltool.response r JOIN evaltool.score s ON s.response_id = r.id
        WHERE r.run_id = $1 AND ($9::text[] IS NULL OR s.metric = ANY ($9))
    ), sc AS (
        SELECT r.prompt_id, s.metric, s.value, s.passed, r.status = 'ok' AS ok
        FROM evaltool.response r JOIN evaltool.score s ON s.response_id = r.id
        WHERE r.run_id = $2 AND ($9::text[] IS NULL OR s.metric = ANY ($9))
    ), kinds AS (
        -- Pass/fail where every score of the metric has a verdict, else the values. The
        -- worst value is the lowest of an answered call in either run (higher is better).
        SELECT u.metric, bool_and(u.passed IS NOT NULL) AS pass_fail,
               min(u.value) FILTER (WHERE u.ok) AS worst
        FROM (SELECT metric, passed, value, ok FROM sb
              UNION ALL SELECT metric, passed, value, ok FROM sc) u
        GROUP BY u.metric
    ), pairs AS (
        -- An error response fails a pass/fail metric and has no value on a continuous one.
        SELECT k.metric, coalesce(b.prompt_id, c.prompt_id) AS prompt_id, k.pass_fail,
               CASE WHEN k.pass_fail THEN b.passed::integer WHEN b.ok THEN b.value END AS bv,
               CASE WHEN k.pass_fail THEN c.passed::integer WHEN c.ok THEN c.value END AS cv,
               k.worst
        FROM sb b FULL JOIN sc c ON c.prompt_id = b.prompt_id AND c.metric = b.metric
        JOIN kinds k ON k.metric = coalesce(b.metric, c.metric)
        UNION ALL
        -- Availability: did the call succeed, as a pass/fail metric of its own.
        SELECT 'availability', coalesce(b.prompt_id, c.prompt_id), true,
               (b.status = 'ok')::integer, (c.status = 'ok')::integer, 0
        FROM (SELECT prompt_id, status FROM evaltool.response WHERE run_id = $1) b
        FULL JOIN (SELECT prompt_id, status FROM evaltool.response WHERE run_id = $2) c
          ON c.prompt_id = b.prompt_id
    ), cases AS (
        -- Policy "worst": a case the baseline has and the candidate lacks counts as a
        -- failure, or as the metric's worst value. Cases the baseline lacks are left out.
        SELECT p.metric, p.prompt_id, p.pass_fail, p.bv,
               coalesce(p.cv, CASE WHEN $3 = 'worst' AND p.bv IS NOT NULL THEN p.worst END) AS cv,
               p.bv IS NOT NULL AND p.cv IS NULL AS baseline_only,
               p.bv IS NULL AND p.cv IS NOT NULL AS candidate_only
        FROM (SELECT q.metric, q.prompt_id, q.pass_fail, q.bv, q.cv,
                     CASE WHEN q.pass_fail THEN 0 ELSE q.worst END AS worst
              FROM pairs q) p
    ), lvl1 AS (
        SELECT x.metric, x.slice, x.cluster, bool_and(x.pass_fail) AS pass_fail,
               count(x.d) AS n,
               count(x.d) FILTER (WHERE x.baseline_only) AS n_imputed,
               count(*) FILTER (WHERE x.baseline_only) AS n_baseline_only,
               count(*) FILTER (WHERE x.candidate_only) AS n_candidate_only,
               count(*) FILTER (WHERE x.d > 0) AS won,
               count(*) FILTER (WHERE x.d < 0) AS lost,
               sum(x.bv) FILTER (WHERE x.d IS NOT NULL) AS b_sum,
               sum(x.cv) FILTER (WHERE x.d IS NOT NULL) AS c_sum,
               coalesce(sum(x.d), 0) AS d_sum,
               var_samp(x.d) AS d_var,
               array_agg(x.d) FILTER (WHERE x.d <> 0) AS small
        FROM (SELECT c.metric, c.pass_fail, c.bv, c.cv, c.baseline_only, c.candidate_only,
                     %s AS slice, %s AS cluster,
                     -- differences at 9 decimals: 0.6 - 0.4 and 0.3 - 0.1 are one size
                     round((c.cv - c.bv) * 1e9) / 1e9 AS d
              FROM cases c %s) x
        GROUP BY x.metric, x.slice, x.cluster
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
    ), family AS (
        -- A row where no pair differs cannot reject (its exact p is 1 whatever happens) and
        -- takes no part in the family (Tarone): identical availability does not halve alpha.
        SELECT m.*
        FROM (SELECT array_agg(CASE WHEN t.won + t.lost > 0 THEN t.p END ORDER BY t.k) AS ps
              FROM tested t) a
        CROSS JOIN LATERAL evaltool.multiplicity(a.ps, $7, $8) m
    ), judged AS (
        SELECT t.*, coalesce(f.p_adjusted, t.p) AS p_adjusted,
               coalesce(f.level_alpha, $7) AS level_alpha,
               -- Where the adjusted test keeps "no difference", so does the interval.
               CASE WHEN f.p_adjusted < $7 OR i.low IS NULL THEN i.low ELSE least(i.low, 0) END AS low,
               CASE WHEN f.p_adjusted < $7 OR i.high IS NULL THEN i.high
                    ELSE greatest(i.high, 0) END AS high
        FROM tested t
        JOIN family f ON f.ord = t.k
        LEFT JOIN LATERAL evaltool.paired_interval(t.method, t.n, t.won, t.lost, t.est, t.se,
                                                   t.df, coalesce(f.level_alpha, $7)) i
          ON t.n > t.n_imputed
    )
    SELECT j.metric, j.slice, j.method, j.n, j.n_imputed, j.n_baseline_only, j.n_candidate_only,
           j.bm, j.cm, j.est, j.low, j.high, 1 - j.level_alpha, j.lost, j.won,
           j.p, j.p_adjusted, j.margin,
           evaltool.min_detectable_effect(
               CASE WHEN j.method = 'tango' THEN sqrt(greatest(j.won + j.lost, 1)) / j.n
                    ELSE j.se END, j.level_alpha, 0.8),
           v.verdict,
           CASE WHEN j.n = j.n_imputed THEN NULL
                ELSE NOT (v.verdict = 'worse'
                          OR (coalesce(j.margin, 0) > 0 AND v.verdict = 'inconclusive')) END
    FROM judged j
    CROSS JOIN LATERAL (SELECT CASE WHEN j.n = j.n_imputed THEN 'no paired data'
                                    ELSE evaltool.verdict(j.low, j.high, j.margin) END) v(verdict)
    ORDER BY j.k$q$, slice_expr, cluster_expr, slice_join, groups)
    USING baseline, candidate, missing, slice_path, cluster_path, margins, alpha, correction,
          metrics;
END
$$;

COMMENT ON FUNCTION evaltool.compare_runs(bigint, bigint, double precision, text, text, jsonb, text, text, text[]) IS
    'Candidate run against baseline run, per metric (and per slice with slice_by tag or metadata.KEY; slice NULL is all test cases), plus an availability row (the share of calls that succeeded): n paired, missing cases (baseline_only: scored in the baseline, not in the candidate; with missing => worst they count as failures or as the metric''s worst value, n_imputed; candidate_only are left out), means, delta = candidate - baseline with its interval at ci_level, cases worse and better, p-value and p adjusted over all rows (correction holm, bh or none), the margin, the minimum detectable effect at 80% power, the verdict (better, worse, not worse than margin, inconclusive; no paired data where no case is answered and scored in both runs) and whether the row passes the gate (not worse, and with a margin not inconclusive). Methods: tango (pass/fail: Tango score interval and McNemar score test), t (continuous: paired t), cluster_t (cluster_by metadata.KEY: cluster-robust t); below 25 non-zero differences the exact sign-flip mid-p is used where larger. Error responses have no value on continuous metrics. margins: a number for every metric, or {"metric": m, "*": default}. metrics: only these (availability is always compared).';

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
SELECT sb.metric, p.id, p.external_id, p.input, p.expected,
       coalesce(rb.output_text, 'error: ' || rb.error),
       CASE WHEN rc.id IS NULL THEN 'no response'
            ELSE coalesce(rc.output_text, 'error: ' || rc.error) END,
       sb.value, c.value, sb.passed, sc.passed
FROM evaltool.response rb
JOIN evaltool.score sb ON sb.response_id = rb.id
JOIN evaltool.prompt p ON p.id = rb.prompt_id
LEFT JOIN evaltool.response rc ON rc.run_id = candidate AND rc.prompt_id = rb.prompt_id
LEFT JOIN evaltool.score sc ON sc.response_id = rc.id AND sc.metric = sb.metric
CROSS JOIN LATERAL (SELECT CASE WHEN sc.passed IS NOT NULL OR rc.status = 'ok' THEN sc.value END
                   ) AS c(value)
WHERE rb.run_id = baseline
  AND (regressions.metric IS NULL OR sb.metric = regressions.metric)
  AND CASE WHEN sb.passed IS NOT NULL THEN sb.passed AND NOT coalesce(sc.passed, false)
           ELSE rb.status = 'ok' AND sb.value IS NOT NULL
                AND (c.value IS NULL OR c.value < sb.value) END
ORDER BY sb.metric, coalesce(c.value - sb.value, '-Infinity'), p.id
$$;

COMMENT ON FUNCTION evaltool.regressions(bigint, bigint, text) IS
    'Test cases that got worse from baseline to candidate run, per metric (or only METRIC): passed before and failed, or missing, after; for metrics without pass/fail, a lower value, or none (no response, an error, not scored). Missing cases first, then the biggest drops, with input, expected answer and both outputs (candidate_output ''no response'' where there is none).';
