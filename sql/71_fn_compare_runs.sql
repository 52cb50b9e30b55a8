-- evaltool.compare_runs and evaltool.regressions: did a candidate run get worse than its
-- baseline, per metric, with a paired test suited to the metric, and on which test cases.

CREATE OR REPLACE FUNCTION evaltool.compare_runs(baseline bigint, candidate bigint,
                                                 alpha double precision DEFAULT 0.05)
    RETURNS TABLE (metric text, test text, n_paired bigint, n_unpaired bigint,
                   baseline_mean double precision, candidate_mean double precision,
                   delta double precision, ci_low double precision, ci_high double precision,
                   worse bigint, better bigint, statistic double precision,
                   p_value double precision, verdict text)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
DECLARE
    z double precision;
BEGIN
    IF alpha IS NULL OR alpha <= 0 OR alpha >= 1 THEN
        RAISE EXCEPTION 'alpha must be between 0 and 1, not %', alpha USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM evaltool.run r WHERE r.id = baseline) THEN
        RAISE EXCEPTION 'no run %', baseline USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM evaltool.run r WHERE r.id = candidate) THEN
        RAISE EXCEPTION 'no run %', candidate USING ERRCODE = '22023';
    END IF;
    z := evaltool.norm_quantile(1 - alpha / 2);

    RETURN QUERY
    WITH b AS (
        SELECT r.prompt_id, s.metric, s.value, s.passed
        FROM evaltool.response r JOIN evaltool.score s ON s.response_id = r.id
        WHERE r.run_id = baseline
    ), c AS (
        SELECT r.prompt_id, s.metric, s.value, s.passed
        FROM evaltool.response r JOIN evaltool.score s ON s.response_id = r.id
        WHERE r.run_id = candidate
    ), pairs AS (
        SELECT coalesce(b.metric, c.metric) AS metric,
               b.prompt_id IS NOT NULL AND c.prompt_id IS NOT NULL AS paired,
               b.value AS bv, b.passed AS bp, c.value AS cv, c.passed AS cp
        FROM b FULL JOIN c ON c.prompt_id = b.prompt_id AND c.metric = b.metric
    ), kind AS (
        -- Pass/fail where every paired score has a verdict, else the values; with the
        -- McNemar counts in the same pass over the pairs.
        SELECT p.metric,
               count(*) FILTER (WHERE NOT p.paired) AS n_unpaired,
               CASE WHEN bool_and(p.bp IS NOT NULL AND p.cp IS NOT NULL) FILTER (WHERE p.paired)
                    THEN 'mcnemar' ELSE 'wilcoxon' END AS test,
               count(*) FILTER (WHERE p.paired) AS n_paired,
               avg(p.bp::integer) FILTER (WHERE p.paired) AS bm,
               avg(p.cp::integer) FILTER (WHERE p.paired) AS cm,
               count(*) FILTER (WHERE p.paired AND p.bp AND NOT p.cp) AS worse,
               count(*) FILTER (WHERE p.paired AND NOT p.bp AND p.cp) AS better
        FROM pairs p
        GROUP BY p.metric
    ), mcnemar AS (
        SELECT k.metric, k.n_paired AS n, k.bm, k.cm, k.worse, k.better
        FROM kind k
        WHERE k.test = 'mcnemar' AND k.n_paired > 0
    ), diffs AS (
        SELECT p.metric, p.bv, p.cv, p.cv - p.bv AS d
        FROM pairs p JOIN kind k ON k.metric = p.metric AND k.test = 'wilcoxon'
        WHERE p.paired AND p.bv IS NOT NULL AND p.cv IS NOT NULL
    ), ranked AS (
        -- Average ranks of |d| among the non-zero differences, and each tie group's size.
        SELECT x.metric, x.d,
               rank() OVER w + (count(*) OVER t - 1) / 2.0 AS rnk,
               count(*) OVER t AS tied
        FROM diffs x
        WHERE x.d <> 0
        WINDOW w AS (PARTITION BY x.metric ORDER BY abs(x.d)),
               t AS (PARTITION BY x.metric, abs(x.d))
    ), signed_ranks AS (
        SELECT x.metric, count(*) AS n,
               coalesce(sum(x.rnk) FILTER (WHERE x.d > 0), 0)::double precision AS w_plus,
               sum(x.tied * x.tied - 1)::double precision AS tie_term
        FROM ranked x
        GROUP BY x.metric
    ), wilcoxon AS (
        SELECT x.metric, count(*) AS n, avg(x.bv) AS bm, avg(x.cv) AS cm,
               avg(x.d) AS md, stddev_samp(x.d) AS sd,
               count(*) FILTER (WHERE x.d < 0) AS worse,
               count(*) FILTER (WHERE x.d > 0) AS better,
               coalesce(max(sr.n), 0) AS n_nonzero,
               coalesce(max(sr.w_plus), 0) AS w_plus,
               coalesce(max(sr.tie_term), 0) AS tie_term
        FROM diffs x LEFT JOIN signed_ranks sr ON sr.metric = x.metric
        GROUP BY x.metric
    ), tested AS (
        SELECT m.metric, 'mcnemar_exact' AS test, m.n, m.bm, m.cm, m.cm - m.bm AS delta,
               -- Wald interval of a paired difference of proportions.
               z * sqrt(m.worse + m.better - (m.better - m.worse) ^ 2 / m.n::double precision)
                 / m.n AS half,
               m.worse, m.better,
               least(m.worse, m.better)::double precision AS statistic,
               evaltool.mcnemar_exact_p(m.worse, m.better) AS p,
               sign(m.better - m.worse) AS direction
        FROM mcnemar m
        UNION ALL
        SELECT w.metric, 'wilcoxon_signed_rank', w.n, w.bm, w.cm, w.md,
               -- Paired t interval of the mean difference (assumes roughly normal differences
               -- or n large enough); the p-value itself makes no such assumption.
               CASE WHEN w.n > 1 THEN evaltool.t_quantile(1 - alpha / 2, w.n - 1) * w.sd / sqrt(w.n) END,
               w.worse, w.better,
               least(w.w_plus, w.n_nonzero * (w.n_nonzero + 1) / 2.0 - w.w_plus),
               evaltool.wilcoxon_p(w.n_nonzero, w.w_plus, w.tie_term),
               sign(w.w_plus - w.n_nonzero * (w.n_nonzero + 1) / 4.0)
        FROM wilcoxon w
    )
    SELECT k.metric,
           t.test,
           coalesce(t.n, 0),
           k.n_unpaired,
           t.bm::double precision,
           t.cm::double precision,
           t.delta::double precision,
           (t.delta - t.half)::double precision,
           (t.delta + t.half)::double precision,
           coalesce(t.worse, 0),
           coalesce(t.better, 0),
           t.statistic,
           t.p,
           CASE WHEN t.n IS NULL THEN 'no paired data'
                WHEN t.p < alpha AND t.direction < 0 THEN 'regressed'
                WHEN t.p < alpha AND t.direction > 0 THEN 'improved'
                ELSE 'no significant change' END
    FROM kind k
    LEFT JOIN tested t ON t.metric = k.metric
    ORDER BY k.metric;
END
$$;

COMMENT ON FUNCTION evaltool.compare_runs(bigint, bigint, double precision) IS
    'Per metric, candidate run against baseline run over the test cases scored in both (paired): n, means, delta (candidate - baseline) with its (1 - alpha) confidence interval, cases worse and better, test statistic, two-sided p-value and verdict (regressed, improved, no significant change). Pass/fail metrics: exact McNemar test, Wald interval of the paired difference of pass rates. Continuous metrics: Wilcoxon signed-rank test (zeros dropped; exact for n <= 50 without ties, else normal with tie correction), paired t interval of the mean difference. Verdicts follow the test''s direction, not the sign of the mean. n_unpaired counts scores present in one run only.';

CREATE OR REPLACE FUNCTION evaltool.regressions(baseline bigint, candidate bigint,
                                                metric text DEFAULT NULL)
    RETURNS TABLE (metric text, prompt_id bigint, external_id text, input jsonb,
                   expected jsonb, baseline_output text, candidate_output text,
                   baseline_value double precision, candidate_value double precision,
                   baseline_passed boolean, candidate_passed boolean)
    LANGUAGE sql STABLE AS
$$
SELECT sb.metric, p.id, p.external_id, p.input, p.expected,
       coalesce(rb.output_text, 'error: ' || rb.error), coalesce(rc.output_text, 'error: ' || rc.error),
       sb.value, sc.value, sb.passed, sc.passed
FROM evaltool.response rb
JOIN evaltool.response rc ON rc.run_id = candidate AND rc.prompt_id = rb.prompt_id
JOIN evaltool.score sb ON sb.response_id = rb.id
JOIN evaltool.score sc ON sc.response_id = rc.id AND sc.metric = sb.metric
JOIN evaltool.prompt p ON p.id = rb.prompt_id
WHERE rb.run_id = baseline
  AND (regressions.metric IS NULL OR sb.metric = regressions.metric)
  AND CASE WHEN sb.passed IS NOT NULL AND sc.passed IS NOT NULL THEN sb.passed AND NOT sc.passed
           ELSE sc.value < sb.value END
ORDER BY sb.metric, sc.value - sb.value, p.id
$$;

COMMENT ON FUNCTION evaltool.regressions(bigint, bigint, text) IS
    'Test cases that got worse from baseline to candidate run (passed before and failed after; for metrics without pass/fail, a lower value), per metric (or only METRIC), biggest drops first, with input, expected answer and both outputs.';
