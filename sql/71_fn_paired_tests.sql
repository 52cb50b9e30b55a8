-- The paired tests behind every verdict of evaltool.compare_runs, one function per step, so
-- that a DBA (or bench/verdicts.py) can call each of them on numbers of their own:
--
--   paired_p          the p-value of "no difference" for one metric (or slice)
--   paired_interval   the interval of the difference, from the same method as the p-value
--   multiplicity      p-values adjusted over the metrics and slices of one comparison
--   verdict           better, worse, not worse than margin or inconclusive, from the interval
--   normal_power, min_detectable_effect, sample_size: what a comparison can detect
--
-- Methods. Pass/fail metrics: Tango's score interval for a difference of paired proportions,
-- whose score test at 0 is McNemar's test, so the test and the interval are one method and
-- cannot disagree. Continuous metrics, and any metric with clustered test cases: the mean
-- difference with a (cluster-robust) t interval and the matching t test. Below 25 non-zero
-- differences (or non-zero cluster totals) the p-value is also the exact sign-flip
-- permutation mid-p-value, and the larger of the two is kept: the asymptotic p alone can
-- flag 4 cases lost out of 4, a sign-flip test never does. Where the exact test keeps a
-- difference the interval would exclude, the interval is widened to 0 (in compare_runs).

CREATE OR REPLACE FUNCTION evaltool.tango_z(won bigint, lost bigint, n bigint,
                                            delta0 double precision)
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- Score statistic of H0: delta = delta0 with the restricted maximum-likelihood estimate of
-- the probability of a lost pair (Tango 1998, eq. 3), oriented so that delta = (won - lost) / n.
SELECT CASE WHEN v > 1e-300 THEN num / sqrt(v)
            WHEN num > 0 THEN 'Infinity'::double precision
            WHEN num < 0 THEN '-Infinity'::double precision
            ELSE 0 END
FROM (SELECT won - lost - n * delta0,
             n * (2 * (sqrt(greatest(bq * bq - 4 * a * c, 0)) - bq) / (2 * a)
                  + delta0 * (1 - delta0))
      FROM (SELECT 2.0::double precision * n,
                   -(won + lost) + (2.0 * n - won + lost) * delta0,
                   -lost * delta0 * (1 - delta0)) AS k(a, bq, c)
     ) AS x(num, v)
$$;
COMMENT ON FUNCTION evaltool.tango_z(bigint, bigint, bigint, double precision) IS
    'Tango''s score statistic for a difference of paired proportions, H0: (candidate - baseline) pass rate = delta0, from the pairs won (failed before, passed after), lost (the reverse) and all n pairs. At delta0 = 0 it is McNemar''s (won - lost) / sqrt(won + lost).';

CREATE OR REPLACE FUNCTION evaltool.tango_interval(won bigint, lost bigint, n bigint,
                                                   alpha double precision DEFAULT 0.05)
    RETURNS TABLE (low double precision, high double precision)
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    z double precision := evaltool.norm_quantile(1 - alpha / 2);
    est double precision;
    lo double precision;
    hi double precision;
    mid double precision;
BEGIN
    IF n <= 0 THEN RETURN; END IF;
    est := (won - lost)::double precision / n;
    -- The score statistic falls as delta0 rises: bisect for where it crosses +z and -z.
    IF est <= -1 THEN
        low := -1;
    ELSE
        lo := -1; hi := est;
        FOR i IN 1 .. 60 LOOP
            mid := (lo + hi) / 2;
            IF evaltool.tango_z(won, lost, n, mid) > z THEN lo := mid; ELSE hi := mid; END IF;
        END LOOP;
        low := lo;
    END IF;
    IF est >= 1 THEN
        high := 1;
    ELSE
        lo := est; hi := 1;
        FOR i IN 1 .. 60 LOOP
            mid := (lo + hi) / 2;
            IF evaltool.tango_z(won, lost, n, mid) < -z THEN hi := mid; ELSE lo := mid; END IF;
        END LOOP;
        high := hi;
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION evaltool.tango_interval(bigint, bigint, bigint, double precision) IS
    'Tango''s score interval (1 - alpha) of the difference of paired pass rates (candidate - baseline) from won, lost and n pairs: the values delta0 that the score test does not reject. Good coverage at small n and at rates near 0 and 1; never of width 0 (30 identical cases give +-0.113). No row when n = 0.';

CREATE OR REPLACE FUNCTION evaltool.sign_flip_midp(d double precision[]) RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- Every one of the 2^m sign patterns of the m non-zero differences is equally likely under
-- H0. The sums of the two halves' patterns (2^12 each at most) are sorted, and one merge
-- counts the patterns whose total is beyond the observed one. Differences are compared at
-- 9 significant digits, as integers, so that 0.6 - 0.4 and 0.3 - 0.1 are the same size.
DECLARE
    scale double precision;
    x bigint[];
    m integer;
    half integer;
    t bigint;
    a bigint[] := ARRAY[0::bigint];
    b bigint[] := ARRAY[0::bigint];
    na integer;
    nb integer;
    k integer;
    e integer;
    q bigint;
    above double precision := 0;
    equal double precision := 0;
BEGIN
    SELECT 10 ^ (9 - ceil(log(max(abs(v))))) INTO scale FROM unnest(d) v WHERE v <> 0;
    IF scale IS NULL THEN RETURN 1; END IF;
    x := ARRAY(SELECT round(v * scale)::bigint FROM unnest(d) v WHERE round(v * scale) <> 0);
    m := coalesce(array_length(x, 1), 0);
    IF m = 0 THEN RETURN 1; END IF;
    IF m > 26 THEN
        RAISE EXCEPTION 'sign_flip_midp enumerates 2^m sign patterns: % differences are too many', m
            USING ERRCODE = '54000';
    END IF;
    t := abs((SELECT sum(v) FROM unnest(x) v));
    half := m / 2;
    FOR i IN 1 .. half LOOP
        a := ARRAY(SELECT s + x[i] FROM unnest(a) s UNION ALL SELECT s - x[i] FROM unnest(a) s);
    END LOOP;
    FOR i IN half + 1 .. m LOOP
        b := ARRAY(SELECT s + x[i] FROM unnest(b) s UNION ALL SELECT s - x[i] FROM unnest(b) s);
    END LOOP;
    a := ARRAY(SELECT s FROM unnest(a) s ORDER BY s);
    b := ARRAY(SELECT s FROM unnest(b) s ORDER BY s);
    na := array_length(a, 1);
    nb := array_length(b, 1);
    -- For each a[i], ascending, count b > t - a[i] and b = t - a[i]; k is the first index of
    -- b above the target, e the first at or above it, and both only move down.
    k := nb + 1;
    e := nb + 1;
    FOR i IN 1 .. na LOOP
        q := t - a[i];
        WHILE k > 1 AND b[k - 1] > q LOOP k := k - 1; END LOOP;
        WHILE e > 1 AND b[e - 1] >= q LOOP e := e - 1; END LOOP;
        above := above + (nb - k + 1);
        equal := equal + (k - e);
    END LOOP;
    -- Both sets of sums are symmetric about 0, so the lower tail mirrors the upper one.
    IF t = 0 THEN
        RETURN least(1, (2 * above + 0.5 * equal) / 2 ^ m);
    END IF;
    RETURN least(1, 2 * (above + 0.5 * equal) / 2 ^ m);
END
$$;
COMMENT ON FUNCTION evaltool.sign_flip_midp(double precision[]) IS
    'Two-sided mid-p-value of the exact sign-flip permutation test of a sum of paired differences (or cluster totals): P(|S| > |s|) + P(|S| = |s|) / 2 over all 2^m sign patterns of the m non-zero values, compared at 9 significant digits. For +-1 differences it is the mid-p McNemar test. At most 26 non-zero values.';

CREATE OR REPLACE FUNCTION evaltool.binomial_midp(won bigint, lost bigint) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- 2 (P(X <= k) - P(X = k) / 2) for k = min(won, lost) of m = won + lost at 1/2: the
-- sign-flip mid-p of +-1 differences, from the binomial rather than 2^m patterns.
-- At k = m / 2 every pattern is at least as far out: 1 - P(X = k) / 2.
SELECT CASE WHEN m = 0 THEN 1
            WHEN 2 * k = m THEN 1 - pk / 2
            ELSE least(1, 2 * evaltool.beta_inc((m - k)::double precision, k + 1, 0.5) - pk) END
FROM (SELECT won + lost, least(won, lost)) AS x(m, k)
CROSS JOIN LATERAL (SELECT exp(evaltool.ln_gamma(m + 1.0) - evaltool.ln_gamma(k + 1.0)
                               - evaltool.ln_gamma(m - k + 1.0) - m * ln(2.0))) AS y(pk)
$$;
COMMENT ON FUNCTION evaltool.binomial_midp(bigint, bigint) IS
    'Two-sided mid-p-value of the exact McNemar (binomial) test from the discordant pairs won and lost: sign_flip_midp of that many +1 and -1, computed from the binomial distribution.';

CREATE OR REPLACE FUNCTION evaltool.paired_p(method text, won bigint, lost bigint,
                                             estimate double precision, se double precision,
                                             df double precision, small double precision[])
    RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT greatest(
    CASE WHEN method = 'tango'
         THEN CASE WHEN won + lost = 0 THEN 1
                   ELSE 2 * evaltool.norm_cdf(-abs(won - lost) / sqrt((won + lost)::double precision)) END
         WHEN df >= 1 AND se > 0 THEN 2 * evaltool.t_cdf(-abs(estimate) / se, df)
         WHEN df >= 1 THEN CASE WHEN estimate = 0 THEN 1 ELSE 0 END
    END,
    CASE WHEN method = 'tango' AND won + lost < 25 THEN evaltool.binomial_midp(won, lost)
         WHEN method <> 'tango' AND small IS NOT NULL THEN evaltool.sign_flip_midp(small) END)
$$;
COMMENT ON FUNCTION evaltool.paired_p(text, bigint, bigint, double precision, double precision, double precision, double precision[]) IS
    'Two-sided p-value of "no difference". method tango: McNemar''s score test from won and lost (the test inverted by tango_interval), and below 25 discordant pairs the exact mid-p (binomial_midp) where larger; t or cluster_t: the t test of estimate / se with df degrees of freedom, and SMALL, the non-zero differences (or cluster totals) when there are fewer than 25, adds the exact sign-flip mid-p-value where larger. NULL when neither can be computed (one pair).';

CREATE OR REPLACE FUNCTION evaltool.paired_interval(method text, n bigint, won bigint,
                                                    lost bigint, estimate double precision,
                                                    se double precision, df double precision,
                                                    alpha double precision)
    RETURNS TABLE (low double precision, high double precision)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT i.low, i.high FROM evaltool.tango_interval(won, lost, n, alpha) i WHERE method = 'tango'
UNION ALL
SELECT estimate - h, estimate + h
FROM (SELECT evaltool.t_quantile(1 - alpha / 2, df) * se) AS x(h)
WHERE method <> 'tango' AND df >= 1
$$;
COMMENT ON FUNCTION evaltool.paired_interval(text, bigint, bigint, bigint, double precision, double precision, double precision, double precision) IS
    'Interval (1 - alpha) of the difference, from the method of paired_p: Tango''s score interval, or estimate +- t(1 - alpha/2, df) se. No row where there is none (fewer than two pairs or clusters).';

CREATE OR REPLACE FUNCTION evaltool.multiplicity(p double precision[], alpha double precision,
                                                 correction text DEFAULT 'holm')
    RETURNS TABLE (ord bigint, p_adjusted double precision, level_alpha double precision)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
-- Holm: adjusted p = max over the smaller p of (m - rank + 1) p, and the row's interval at
-- alpha / (m - rank + 1), the threshold its p had to pass. Benjamini-Hochberg: adjusted
-- p = min over the larger p of m p / rank, intervals at R alpha / m for R rejections
-- (Benjamini and Yekutieli's false-coverage-rate intervals). NULL p-values take no part.
WITH x AS (
    SELECT u.ord, u.p, row_number() OVER (ORDER BY u.p, u.ord) AS rnk,
           count(u.p) OVER () AS m
    FROM unnest(p) WITH ORDINALITY AS u(p, ord)
), adj AS (
    SELECT x.*,
           CASE correction
               WHEN 'none' THEN x.p
               WHEN 'holm' THEN max(least(1, (x.m - x.rnk + 1) * x.p))
                                    OVER (ORDER BY x.rnk ROWS UNBOUNDED PRECEDING)
               WHEN 'bh' THEN min(least(1, x.m * x.p / x.rnk))
                                  OVER (ORDER BY x.rnk DESC ROWS UNBOUNDED PRECEDING)
           END AS pa
    FROM x WHERE x.p IS NOT NULL
)
SELECT x.ord, a.pa,
       CASE correction
           WHEN 'none' THEN alpha
           WHEN 'holm' THEN alpha / (a.m - a.rnk + 1)
           WHEN 'bh' THEN alpha * greatest(1, count(*) FILTER (WHERE a.pa < alpha) OVER ()) / a.m
       END
FROM x LEFT JOIN adj a ON a.ord = x.ord
ORDER BY x.ord
$$;
COMMENT ON FUNCTION evaltool.multiplicity(double precision[], double precision, text) IS
    'P-values adjusted for testing them together (correction holm, bh or none), in the order given, with the alpha at which each row''s interval is drawn so that it excludes 0 exactly when the adjusted p is below alpha. NULL p-values stay NULL and are not counted.';

CREATE OR REPLACE FUNCTION evaltool.verdict(low double precision, high double precision,
                                            margin double precision DEFAULT 0)
    RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
SELECT CASE WHEN low IS NULL OR high IS NULL THEN 'inconclusive'
            WHEN low > 0 THEN 'better'
            WHEN coalesce(margin, 0) > 0 AND low > -margin THEN 'not worse than margin'
            WHEN high < 0 THEN 'worse'
            ELSE 'inconclusive' END
$$;
COMMENT ON FUNCTION evaltool.verdict(double precision, double precision, double precision) IS
    'The verdict of an interval of candidate - baseline: better (all of it above 0), not worse than margin (all of it above -margin, margin > 0), worse (all of it below 0), else inconclusive: the data cannot tell.';

CREATE OR REPLACE FUNCTION evaltool.normal_power(effect double precision, se double precision,
                                                 alpha double precision DEFAULT 0.05)
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- CASE, not WHERE: the planner folds constant arguments before it would filter.
SELECT CASE WHEN se > 0 THEN evaltool.norm_cdf(abs(effect) / se - z)
                             + evaltool.norm_cdf(-abs(effect) / se - z) END
FROM (SELECT evaltool.norm_quantile(1 - alpha / 2)) AS x(z)
$$;
COMMENT ON FUNCTION evaltool.normal_power(double precision, double precision, double precision) IS
    'Power of a two-sided test at alpha to detect a true difference EFFECT whose estimate has standard error SE (normal approximation; statsmodels NormalIndPower with ratio 0).';

CREATE OR REPLACE FUNCTION evaltool.min_detectable_effect(se double precision,
                                                          alpha double precision DEFAULT 0.05,
                                                          power double precision DEFAULT 0.8)
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
SELECT CASE WHEN se > 0
            THEN (evaltool.norm_quantile(1 - alpha / 2) + evaltool.norm_quantile(power)) * se END
$$;
COMMENT ON FUNCTION evaltool.min_detectable_effect(double precision, double precision, double precision) IS
    'The smallest true difference a two-sided test at alpha detects with the given power (default 80%) when its estimate has standard error SE: (z(1 - alpha/2) + z(power)) SE.';

CREATE OR REPLACE FUNCTION evaltool.sample_size(sd_diff double precision, detect double precision,
                                                alpha double precision DEFAULT 0.05,
                                                power double precision DEFAULT 0.8)
    RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- The closed form ignores the far tail; the next count up is taken where it falls short.
SELECT CASE WHEN n IS NULL THEN NULL
            WHEN evaltool.normal_power(detect, sd_diff / sqrt(n), alpha) >= power THEN n
            ELSE n + 1 END
FROM (SELECT CASE WHEN sd_diff > 0 AND detect <> 0
                  THEN greatest(2, ceil(((evaltool.norm_quantile(1 - alpha / 2)
                                          + evaltool.norm_quantile(power)) * sd_diff / detect) ^ 2)
                       )::bigint END) AS x(n)
$$;
COMMENT ON FUNCTION evaltool.sample_size(double precision, double precision, double precision, double precision) IS
    'Test cases a paired comparison needs to detect a difference DETECT with the given power at alpha, when the per-case differences have standard deviation SD_DIFF (the smallest n with normal_power >= power; statsmodels NormalIndPower.solve_power with ratio 0, rounded up). NULL when SD_DIFF or DETECT is 0.';
