-- Distribution functions for confidence intervals and p-values, in plain SQL and PL/pgSQL
-- so they work on PostgreSQL 14 (erf, lgamma and friends arrived only in 16 to 18).
-- tests/test_stats.py checks them against scipy: the normal CDF to 1e-12 relative over
-- -40..9, the t CDF to 1e-12 and the quantiles to 1e-9 for 1 to 1000 degrees of freedom,
-- the incomplete beta to 1e-9 for counts up to about 10^5 (larger counts are used, but
-- checked only through the McNemar p-values of tests/test_compare.py).

CREATE OR REPLACE FUNCTION evaltool.ln_gamma(x double precision) RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    -- Lanczos approximation, g = 7, n = 9.
    c double precision[] := ARRAY[0.99999999999980993, 676.5203681218851, -1259.1392167224028,
                                  771.32342877765313, -176.61502916214059, 12.507343278686905,
                                  -0.13857109526572012, 9.9843695780195716e-6,
                                  1.5056327351493116e-7];
    a double precision;
    t double precision;
BEGIN
    IF x < 0.5 THEN
        RETURN ln(pi() / abs(sin(pi() * x))) - evaltool.ln_gamma(1 - x);
    END IF;
    x := x - 1;
    a := c[1];
    FOR i IN 1 .. 8 LOOP
        a := a + c[i + 1] / (x + i);
    END LOOP;
    t := x + 7.5;
    RETURN 0.5 * ln(2 * pi()) + (x + 0.5) * ln(t) - t + ln(a);
END
$$;
COMMENT ON FUNCTION evaltool.ln_gamma(double precision) IS
    'Natural logarithm of the gamma function (Lanczos approximation).';

CREATE OR REPLACE FUNCTION evaltool.beta_inc(a double precision, b double precision,
                                             x double precision) RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    tiny constant double precision := 1e-300;
    swap boolean := x > (a + 1) / (a + b + 2);
    p double precision;
    q double precision;
    z double precision;
    front double precision;
    c double precision := 1;
    d double precision;
    f double precision;
    m integer;
    aa double precision;
    delta double precision;
BEGIN
    IF x <= 0 THEN RETURN 0; END IF;
    IF x >= 1 THEN RETURN 1; END IF;
    -- The continued fraction converges fast below the mean; use symmetry above it.
    IF swap THEN p := b; q := a; z := 1 - x; ELSE p := a; q := b; z := x; END IF;
    front := evaltool.ln_gamma(p + q) - evaltool.ln_gamma(p) - evaltool.ln_gamma(q)
             + p * ln(z) + q * ln(1 - z);
    -- exp() raises on underflow in PostgreSQL: a term that small is zero.
    front := CASE WHEN front < -700 THEN 0 ELSE exp(front) / p END;
    -- Modified Lentz evaluation.
    d := 1 - (p + q) * z / (p + 1);
    IF abs(d) < tiny THEN d := tiny; END IF;
    d := 1 / d;
    f := d;
    FOR i IN 1 .. 20000 LOOP
        m := i;
        aa := m * (q - m) * z / ((p + 2 * m - 1) * (p + 2 * m));
        d := 1 + aa * d; IF abs(d) < tiny THEN d := tiny; END IF;
        c := 1 + aa / c; IF abs(c) < tiny THEN c := tiny; END IF;
        d := 1 / d;
        f := f * d * c;
        aa := -(p + m) * (p + q + m) * z / ((p + 2 * m) * (p + 2 * m + 1));
        d := 1 + aa * d; IF abs(d) < tiny THEN d := tiny; END IF;
        c := 1 + aa / c; IF abs(c) < tiny THEN c := tiny; END IF;
        d := 1 / d;
        delta := d * c;
        f := f * delta;
        EXIT WHEN abs(delta - 1) < 1e-15;
    END LOOP;
    RETURN CASE WHEN swap THEN 1 - front * f ELSE front * f END;
END
$$;
COMMENT ON FUNCTION evaltool.beta_inc(double precision, double precision, double precision) IS
    'Regularized incomplete beta function I_x(a, b) (continued fraction, modified Lentz).';

CREATE OR REPLACE FUNCTION evaltool.t_cdf(t double precision, df double precision)
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
SELECT CASE WHEN t > 0 THEN 1 - tail ELSE tail END
FROM (SELECT 0.5 * evaltool.beta_inc(df / 2, 0.5, df / (df + t * t))) AS x(tail)
$$;
COMMENT ON FUNCTION evaltool.t_cdf(double precision, double precision) IS
    'Cumulative distribution function of Student''s t with df degrees of freedom.';

CREATE OR REPLACE FUNCTION evaltool.norm_cdf(x double precision) RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    z double precision := abs(x);
    term double precision;
    total double precision;
    tail double precision;
    k integer;
BEGIN
    IF z > 38 THEN
        tail := 0;  -- below the smallest double; exp() would raise on underflow
    ELSIF z < 3 THEN
        -- Marsaglia's series: Phi(z) = 1/2 + phi(z) (z + z^3/3 + z^5/(3*5) + ...).
        term := z;
        total := z;
        k := 1;
        LOOP
            k := k + 2;
            term := term * z * z / k;
            total := total + term;
            EXIT WHEN term <= 1e-17 * total;
        END LOOP;
        tail := 0.5 - exp(-z * z / 2) / sqrt(2 * pi()) * total;
    ELSE
        -- Continued fraction of the Mills ratio, evaluated from the back.
        total := z;
        FOR k IN REVERSE 120 .. 1 LOOP
            total := z + k / total;
        END LOOP;
        tail := exp(-z * z / 2) / sqrt(2 * pi()) / total;
    END IF;
    RETURN CASE WHEN x < 0 THEN tail ELSE 1 - tail END;
END
$$;
COMMENT ON FUNCTION evaltool.norm_cdf(double precision) IS
    'Cumulative distribution function of the standard normal distribution.';

CREATE OR REPLACE FUNCTION evaltool.dist_quantile(p double precision, df double precision)
    RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
DECLARE
    lo double precision;  -- NULL: no bound known yet
    hi double precision;
    x double precision := 0;
    f double precision;
    density double precision;
    next double precision;
    log_norm double precision;
BEGIN
    IF p IS NULL OR p <= 0 OR p >= 1 THEN
        RAISE EXCEPTION 'quantile of % is not defined', p USING ERRCODE = '22003';
    END IF;
    IF df <= 0 THEN
        RETURN NULL;  -- one value has no spread: no t interval, rather than an error
    END IF;
    log_norm := CASE WHEN df IS NULL THEN -0.5 * ln(2 * pi())
                     ELSE evaltool.ln_gamma((df + 1) / 2) - evaltool.ln_gamma(df / 2)
                          - 0.5 * ln(df * pi()) END;
    -- Newton's method on the CDF, kept inside a bracket that shrinks at every step: where
    -- a Newton step would leave it, bisect instead (or step outwards while it is open).
    FOR i IN 1 .. 200 LOOP
        f := CASE WHEN df IS NULL THEN evaltool.norm_cdf(x) ELSE evaltool.t_cdf(x, df) END - p;
        IF f < 0 THEN lo := x; ELSE hi := x; END IF;
        density := exp(log_norm + CASE WHEN df IS NULL THEN -x * x / 2
                                       ELSE -(df + 1) / 2 * ln(1 + x * x / df) END);
        next := CASE WHEN density > 0 THEN x - f / density END;
        IF next IS NULL OR next <= lo OR next >= hi THEN
            next := CASE WHEN lo IS NULL THEN hi - 2 * greatest(1, abs(hi))
                         WHEN hi IS NULL THEN lo + 2 * greatest(1, abs(lo))
                         ELSE (lo + hi) / 2 END;
        END IF;
        EXIT WHEN abs(next - x) <= 1e-15 * greatest(1, abs(x));
        x := next;
    END LOOP;
    RETURN x;
END
$$;
COMMENT ON FUNCTION evaltool.dist_quantile(double precision, double precision) IS
    'Quantile p of Student''s t with df degrees of freedom (NULL for df <= 0), or of the standard normal when df is NULL (safeguarded Newton iteration on the CDF).';

CREATE OR REPLACE FUNCTION evaltool.norm_quantile(p double precision) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT evaltool.dist_quantile(p, NULL) $$;
COMMENT ON FUNCTION evaltool.norm_quantile(double precision) IS
    'Quantile p of the standard normal distribution (1.959964 for 0.975).';

CREATE OR REPLACE FUNCTION evaltool.t_quantile(p double precision, df double precision)
    RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT evaltool.dist_quantile(p, df) $$;
COMMENT ON FUNCTION evaltool.t_quantile(double precision, double precision) IS
    'Quantile p of Student''s t with df degrees of freedom (12.706 for 0.975 and df 1).';

CREATE OR REPLACE FUNCTION evaltool.mcnemar_exact_p(b bigint, c bigint) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- Two-sided exact binomial test of min(b, c) in b + c at 1/2: 2 P(X <= min), at most 1,
-- with the binomial CDF as an incomplete beta, so that millions of pairs cost no more.
SELECT CASE WHEN b + c = 0 THEN 1
            ELSE least(1, 2 * evaltool.beta_inc(greatest(b, c)::double precision,
                                                least(b, c) + 1, 0.5)) END
$$;
COMMENT ON FUNCTION evaltool.mcnemar_exact_p(bigint, bigint) IS
    'Two-sided p-value of the exact McNemar test: b pairs passed before and failed after, c the reverse (binomial test of min(b, c) in b + c at 1/2).';

CREATE OR REPLACE FUNCTION evaltool.wilcoxon_p(n bigint, w_plus double precision,
                                               tie_term double precision) RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    t double precision;
    max_sum integer;
    counts double precision[];
    below double precision := 0;
    sd double precision;
BEGIN
    IF n = 0 THEN RETURN 1; END IF;
    t := least(w_plus, n * (n + 1) / 2.0 - w_plus);
    IF n <= 50 AND tie_term = 0 THEN
        -- Exact null distribution: counts[s + 1] = subsets of 1..n whose ranks sum to s.
        max_sum := n * (n + 1) / 2;
        counts := array_fill(0::double precision, ARRAY[max_sum + 1]);
        counts[1] := 1;
        FOR k IN 1 .. n LOOP
            FOR s IN REVERSE k * (k + 1) / 2 .. k LOOP
                counts[s + 1] := counts[s + 1] + counts[s - k + 1];
            END LOOP;
        END LOOP;
        FOR s IN 0 .. floor(t)::integer LOOP
            below := below + counts[s + 1];
        END LOOP;
        RETURN least(1, 2 * below / 2 ^ n);
    END IF;
    -- Normal approximation with the tie correction, without continuity correction.
    sd := sqrt(n * (n + 1) * (2 * n + 1) / 24.0 - tie_term / 48.0);
    IF sd = 0 THEN RETURN 1; END IF;
    RETURN least(1, 2 * evaltool.norm_cdf((t - n * (n + 1) / 4.0) / sd));
END
$$;
COMMENT ON FUNCTION evaltool.wilcoxon_p(bigint, double precision, double precision) IS
    'Two-sided p-value of the Wilcoxon signed-rank test from n non-zero differences, the rank sum of the positive ones and the tie term sum(t^3 - t) over groups of tied |differences|: exact for n <= 50 without ties, else the normal approximation with tie correction (scipy''s method="exact" and "asymptotic").';

CREATE OR REPLACE FUNCTION evaltool.wilson_interval(successes double precision,
                                                    n double precision,
                                                    confidence double precision DEFAULT 0.95)
    RETURNS TABLE (low double precision, high double precision)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
-- Wilson score interval: sound near 0 and 1 and for small n. No row's values when n = 0.
-- At 0 or n successes the end is exactly 0 or 1, where rounding would leave 3.6e-17.
SELECT CASE WHEN ph <= 0 THEN 0
            ELSE (ph + z * z / (2 * k) - z * sqrt(ph * (1 - ph) / k + z * z / (4 * k * k)))
                 / (1 + z * z / k) END,
       CASE WHEN ph >= 1 THEN 1
            ELSE (ph + z * z / (2 * k) + z * sqrt(ph * (1 - ph) / k + z * z / (4 * k * k)))
                 / (1 + z * z / k) END
FROM (SELECT successes / nullif(n, 0), nullif(n, 0),
             evaltool.norm_quantile(1 - (1 - confidence) / 2)) AS x(ph, k, z)
$$;
COMMENT ON FUNCTION evaltool.wilson_interval(double precision, double precision, double precision) IS
    'Wilson score interval (low, high) of a proportion successes / n at the given confidence (default 95%); NULLs when n = 0.';

CREATE OR REPLACE FUNCTION evaltool.spd_inverse(a double precision[]) RETURNS double precision[]
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- Cholesky factor A = L L', then A^-1 = L^-T L^-1. For the small matrices of rating models.
DECLARE
    k integer := array_length(a, 1);
    l double precision[] := array_fill(0::double precision, ARRAY[k, k]);
    li double precision[] := array_fill(0::double precision, ARRAY[k, k]);
    inv double precision[] := array_fill(0::double precision, ARRAY[k, k]);
    s double precision;
BEGIN
    IF array_ndims(a) <> 2 OR array_length(a, 2) <> k THEN
        RAISE EXCEPTION 'spd_inverse needs a square matrix' USING ERRCODE = '22023';
    END IF;
    FOR j IN 1 .. k LOOP
        s := a[j][j];
        FOR m IN 1 .. j - 1 LOOP
            s := s - l[j][m] * l[j][m];
        END LOOP;
        IF s <= 0 THEN
            RAISE EXCEPTION 'matrix is not positive definite' USING ERRCODE = '22023';
        END IF;
        l[j][j] := sqrt(s);
        FOR i IN j + 1 .. k LOOP
            s := a[i][j];
            FOR m IN 1 .. j - 1 LOOP
                s := s - l[i][m] * l[j][m];
            END LOOP;
            l[i][j] := s / l[j][j];
        END LOOP;
    END LOOP;
    FOR c IN 1 .. k LOOP
        li[c][c] := 1 / l[c][c];
        FOR i IN c + 1 .. k LOOP
            s := 0;
            FOR m IN c .. i - 1 LOOP
                s := s + l[i][m] * li[m][c];
            END LOOP;
            li[i][c] := -s / l[i][i];
        END LOOP;
    END LOOP;
    FOR i IN 1 .. k LOOP
        FOR j IN i .. k LOOP
            s := 0;
            FOR m IN j .. k LOOP
                s := s + li[m][i] * li[m][j];
            END LOOP;
            inv[i][j] := s;
            inv[j][i] := s;
        END LOOP;
    END LOOP;
    RETURN inv;
END
$$;
COMMENT ON FUNCTION evaltool.spd_inverse(double precision[]) IS
    'Inverse of a symmetric positive definite matrix (a square 2-D array), by Cholesky factorisation.';
