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
               b.value AS bv, b.passed AS bp, c.value AS cv, c.passed AS cp,
               c.value - b.value AS d
        FROM b FULL JOIN c ON c.prompt_id = b.prompt_id AND c.metric = b.metric
    ), by_size AS (
        -- One pass over the pairs, grouped by metric and size of difference |d|: a pass/fail
        -- metric has at most three sizes (0, 1, none), and the signed-rank test needs only
        -- the count of positive and negative differences of each size. No pair is stored.
        SELECT p.metric, abs(p.d) AS size,
               count(*) FILTER (WHERE NOT p.paired) AS n_unpaired,
               bool_and(p.bp IS NOT NULL AND p.cp IS NOT NULL) FILTER (WHERE p.paired) AS pass_fail,
               count(*) FILTER (WHERE p.paired) AS n_paired,
               sum(p.bp::integer) FILTER (WHERE p.paired) AS b_passed,
               sum(p.cp::integer) FILTER (WHERE p.paired) AS c_passed,
               count(*) FILTER (WHERE p.paired AND p.bp AND NOT p.cp) AS lost,
               count(*) FILTER (WHERE p.paired AND NOT p.bp AND p.cp) AS won,
               count(p.d) AS n_d,
               sum(p.bv) FILTER (WHERE p.d IS NOT NULL) AS b_sum,
               sum(p.cv) FILTER (WHERE p.d IS NOT NULL) AS c_sum,
               count(*) FILTER (WHERE p.d < 0) AS neg,
               count(*) FILTER (WHERE p.d > 0) AS pos
        FROM pairs p
        GROUP BY p.metric, abs(p.d)
    ), ranked AS (
        -- Each size's average rank among the non-zero differences (ties share it; sizes 0
        -- and none count no difference), and the metric's mean difference.
        SELECT g.*,
               coalesce(sum(g.pos + g.neg) OVER below, 0) + (g.pos + g.neg + 1) / 2.0 AS rnk,
               sum(g.size * (g.pos - g.neg)) OVER m / nullif(sum(g.n_d) OVER m, 0) AS md
        FROM by_size g
        WINDOW m AS (PARTITION BY g.metric),
               below AS (PARTITION BY g.metric ORDER BY g.size
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
    ), kind AS (
        -- Pass/fail where every paired score has a verdict, else the values.
        SELECT x.metric,
               sum(x.n_unpaired)::bigint AS n_unpaired,
               CASE WHEN bool_and(x.pass_fail) THEN 'mcnemar' ELSE 'wilcoxon' END AS test,
               sum(x.n_paired)::bigint AS n_paired,
               sum(x.b_passed) AS b_passed, sum(x.c_passed) AS c_passed,
               sum(x.lost)::bigint AS lost, sum(x.won)::bigint AS won,
               sum(x.n_d)::bigint AS n_d, sum(x.b_sum) AS b_sum, sum(x.c_sum) AS c_sum,
               max(x.md) AS md,
               -- squared deviations from the mean: d = +size pos times, -size neg times, 0 else
               sum(x.pos * (x.size - x.md) ^ 2 + x.neg * (x.size + x.md) ^ 2
                   + (x.n_d - x.pos - x.neg) * x.md ^ 2) AS ss,
               sum(x.neg)::bigint AS worse, sum(x.pos)::bigint AS better,
               sum(x.pos + x.neg) AS n_nonzero,
               coalesce(sum(x.pos * x.rnk) FILTER (WHERE x.size > 0), 0) AS w_plus,
               coalesce(sum((x.pos + x.neg)::double precision ^ 3 - (x.pos + x.neg))
                        FILTER (WHERE x.size > 0), 0) AS tie_term
        FROM ranked x
        GROUP BY x.metric
    ), mcnemar AS (
        SELECT k.metric, k.n_paired AS n, k.b_passed / k.n_paired AS bm,
               k.c_passed / k.n_paired AS cm, k.lost AS worse, k.won AS better
        FROM kind k
        WHERE k.test = 'mcnemar' AND k.n_paired > 0
    ), wilcoxon AS (
        SELECT k.metric, k.n_d AS n, k.b_sum / k.n_d AS bm, k.c_sum / k.n_d AS cm, k.md,
               CASE WHEN k.n_d > 1 THEN sqrt(k.ss / (k.n_d - 1)) END AS sd,
               k.worse, k.better, k.n_nonzero::bigint AS n_nonzero,
               k.w_plus::double precision AS w_plus, k.tie_term
        FROM kind k
        WHERE k.test = 'wilcoxon' AND k.n_d > 0
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
