-- requires: 0006_preference
-- Bradley-Terry ratings from pairwise judgments: P(i preferred to j) = 1 / (1 + e^(b_j - b_i)).
-- Fitted by Newton's method with step halving on the log-likelihood, ties counting one half
-- win each way, plus a weak normal prior b ~ N(0, prior_sd^2) that keeps every strength
-- finite (a model that never lost) and centres them at 0. Intervals come from the
-- curvature at the optimum (Laplace approximation), projected on sum(b) = 0: each model
-- against the average of the rated ones. Shown on the Elo scale, 1000 + 400 b / ln 10.
CREATE OR REPLACE FUNCTION evaltool.bradley_terry_loglik(strength double precision[],
                                                         wins double precision[],
                                                         prior_sd double precision)
    RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
    k integer := array_length(strength, 1);
    total double precision := 0;
    d double precision;
BEGIN
    FOR i IN 1 .. k LOOP
        total := total - strength[i] ^ 2 / (2 * prior_sd ^ 2);
        FOR j IN 1 .. k LOOP
            IF i <> j AND wins[i][j] > 0 THEN
                -- log sigma(d), with d bounded so that exp neither overflows nor underflows
                d := greatest(-500, least(500, strength[i] - strength[j]));
                total := total - wins[i][j] * CASE WHEN d >= 0 THEN ln(1 + exp(-d))
                                                   ELSE ln(1 + exp(d)) - d END;
            END IF;
        END LOOP;
    END LOOP;
    RETURN total;
END
$$;
COMMENT ON FUNCTION evaltool.bradley_terry_loglik(double precision[], double precision[], double precision) IS
    'Log-likelihood of Bradley-Terry strengths b given wins[i][j] (judgments i won against j, ties as halves), plus the log density of the N(0, prior_sd^2) prior up to a constant.';

CREATE OR REPLACE FUNCTION evaltool.bradley_terry(judge_kind text DEFAULT NULL,
                                                  judge text DEFAULT NULL,
                                                  dataset_id bigint DEFAULT NULL,
                                                  prior_sd double precision DEFAULT 4,
                                                  confidence double precision DEFAULT 0.95)
    RETURNS TABLE (rank bigint, model text, rating double precision,
                   rating_low double precision, rating_high double precision,
                   strength double precision, strength_se double precision,
                   judgments bigint, wins bigint, losses bigint, ties bigint)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
DECLARE
    xs bigint[]; ys bigint[]; xw bigint[]; yw bigint[]; tt bigint[];
    ids bigint[];
    k integer;
    w double precision[];     -- w[i][j]: judgments i won against j, ties counting one half
    n double precision[];     -- n[i][j]: judgments between i and j
    b double precision[];     -- strengths
    grad double precision[];
    hess double precision[];
    cov double precision[];
    step double precision[];
    trial double precision[];
    se double precision[];
    won bigint[]; lost bigint[]; tied bigint[];
    f double precision;
    f_trial double precision;
    scale double precision;
    p double precision;
    v double precision;
    i integer;
    j integer;
    z double precision;
    elo constant double precision := 400 / ln(10);
BEGIN
    IF bradley_terry.judge_kind NOT IN ('human', 'model') THEN
        RAISE EXCEPTION 'judge kind must be human or model, not %', bradley_terry.judge_kind
            USING ERRCODE = '22023';
    END IF;
    IF NOT bradley_terry.prior_sd > 0 OR NOT bradley_terry.confidence > 0
       OR NOT bradley_terry.confidence < 1 THEN
        RAISE EXCEPTION 'prior_sd must be positive and confidence between 0 and 1'
            USING ERRCODE = '22023';
    END IF;
    SELECT array_agg(t.model_x_id), array_agg(t.model_y_id), array_agg(t.x_wins),
           array_agg(t.y_wins), array_agg(t.ties)
    INTO xs, ys, xw, yw, tt
    FROM evaltool.preference_tally(bradley_terry.judge_kind, bradley_terry.judge,
                                   bradley_terry.dataset_id) AS t;
    SELECT array_agg(DISTINCT m ORDER BY m) INTO ids FROM unnest(xs || ys) AS m;
    k := coalesce(array_length(ids, 1), 0);
    IF k = 0 THEN
        RETURN;
    END IF;
    w := array_fill(0::double precision, ARRAY[k, k]);
    n := array_fill(0::double precision, ARRAY[k, k]);
    won := array_fill(0::bigint, ARRAY[k]);
    lost := array_fill(0::bigint, ARRAY[k]);
    tied := array_fill(0::bigint, ARRAY[k]);
    FOR r IN 1 .. array_length(xs, 1) LOOP
        i := array_position(ids, xs[r]);
        j := array_position(ids, ys[r]);
        w[i][j] := xw[r] + tt[r] / 2.0;
        w[j][i] := yw[r] + tt[r] / 2.0;
        n[i][j] := xw[r] + yw[r] + tt[r];
        n[j][i] := n[i][j];
        won[i] := won[i] + xw[r];  lost[i] := lost[i] + yw[r];  tied[i] := tied[i] + tt[r];
        won[j] := won[j] + yw[r];  lost[j] := lost[j] + xw[r];  tied[j] := tied[j] + tt[r];
    END LOOP;

    b := array_fill(0::double precision, ARRAY[k]);
    f := evaltool.bradley_terry_loglik(b, w, bradley_terry.prior_sd);
    FOR iteration IN 1 .. 100 LOOP
        -- Gradient and negative Hessian of the log-posterior at b.
        grad := array_fill(0::double precision, ARRAY[k]);
        hess := array_fill(0::double precision, ARRAY[k, k]);
        FOR a IN 1 .. k LOOP
            grad[a] := -b[a] / bradley_terry.prior_sd ^ 2;
            hess[a][a] := 1 / bradley_terry.prior_sd ^ 2;
        END LOOP;
        FOR a IN 1 .. k LOOP
            FOR c IN a + 1 .. k LOOP
                CONTINUE WHEN n[a][c] = 0;
                p := 1 / (1 + exp(greatest(-500, least(500, b[c] - b[a]))));
                grad[a] := grad[a] + w[a][c] - n[a][c] * p;
                grad[c] := grad[c] - (w[a][c] - n[a][c] * p);
                v := n[a][c] * p * (1 - p);
                hess[a][a] := hess[a][a] + v;
                hess[c][c] := hess[c][c] + v;
                hess[a][c] := hess[a][c] - v;
                hess[c][a] := hess[c][a] - v;
            END LOOP;
        END LOOP;
        cov := evaltool.spd_inverse(hess);
        step := array_fill(0::double precision, ARRAY[k]);
        FOR a IN 1 .. k LOOP
            FOR c IN 1 .. k LOOP
                step[a] := step[a] + cov[a][c] * grad[c];
            END LOOP;
        END LOOP;
        EXIT WHEN (SELECT max(abs(s)) FROM unnest(step) AS s) < 1e-10;
        -- Newton step, halved until the log-posterior does not fall (it is concave).
        scale := 1;
        LOOP
            trial := ARRAY(SELECT x + scale * s FROM unnest(b, step) AS u(x, s));
            f_trial := evaltool.bradley_terry_loglik(trial, w, bradley_terry.prior_sd);
            EXIT WHEN f_trial >= f - 1e-12 * abs(f) OR scale < 1e-6;
            scale := scale / 2;
        END LOOP;
        b := trial;
        f := f_trial;
    END LOOP;

    -- Variance of b_i - mean(b): (P C P)_ii with P = I - 11'/k and C the inverse curvature.
    se := array_fill(0::double precision, ARRAY[k]);
    v := (SELECT sum(x) FROM unnest(cov) AS x) / k ^ 2;
    FOR a IN 1 .. k LOOP
        p := 0;
        FOR c IN 1 .. k LOOP
            p := p + cov[a][c];
        END LOOP;
        se[a] := sqrt(greatest(cov[a][a] - 2 * p / k + v, 0));
    END LOOP;
    z := evaltool.norm_quantile(1 - (1 - bradley_terry.confidence) / 2);
    RETURN QUERY
    SELECT rank() OVER (ORDER BY u.b DESC), m.name,
           1000 + elo * u.b, 1000 + elo * (u.b - z * u.se), 1000 + elo * (u.b + z * u.se),
           u.b, u.se, u.won + u.lost + u.tied, u.won, u.lost, u.tied
    FROM unnest(ids, b, se, won, lost, tied) AS u(id, b, se, won, lost, tied)
    JOIN evaltool.model m ON m.id = u.id
    ORDER BY u.b DESC, m.name;
END
$$;
COMMENT ON FUNCTION evaltool.bradley_terry(text, text, bigint, double precision, double precision) IS
    'Bradley-Terry rating per model from pairwise judgments (ties as half wins), with a weak N(0, prior_sd^2) prior on the strengths and Laplace intervals at the given confidence relative to the mean strength; strength in log-odds, rating on the Elo scale (1000 + 400 b / ln 10). Filters: judge kind, judge, dataset (NULL: all).';

CREATE OR REPLACE VIEW evaltool.model_rating AS
SELECT * FROM evaltool.bradley_terry();

COMMENT ON VIEW evaltool.model_rating IS
    'Bradley-Terry rating per model over all pairwise judgments, best first, with 95% intervals (evaltool.bradley_terry() filters by judge kind, judge and dataset).';
COMMENT ON COLUMN evaltool.model_rating.rank IS 'Rank by strength, 1 for the best.';
COMMENT ON COLUMN evaltool.model_rating.model IS 'Model name.';
COMMENT ON COLUMN evaltool.model_rating.rating IS 'Rating on the Elo scale: 1000 + 400 strength / ln 10; 1000 is the average of the rated models.';
COMMENT ON COLUMN evaltool.model_rating.rating_low IS 'Lower end of the 95% interval of the rating.';
COMMENT ON COLUMN evaltool.model_rating.rating_high IS 'Upper end of the 95% interval of the rating.';
COMMENT ON COLUMN evaltool.model_rating.strength IS 'Bradley-Terry strength in log-odds, centred at 0: e^(b_i - b_j) are the odds that i is preferred to j.';
COMMENT ON COLUMN evaltool.model_rating.strength_se IS 'Standard error of the strength relative to the mean strength.';
COMMENT ON COLUMN evaltool.model_rating.judgments IS 'Judgments the model took part in (against another model).';
COMMENT ON COLUMN evaltool.model_rating.wins IS 'Judgments that preferred the model.';
COMMENT ON COLUMN evaltool.model_rating.losses IS 'Judgments that preferred the other model.';
COMMENT ON COLUMN evaltool.model_rating.ties IS 'Judgments that called a tie.';
