-- requires: 0006_preference
-- Bradley-Terry ratings from pairwise judgments: P(i preferred to j) = 1 / (1 + e^(b_j - b_i)).
-- Models are the nodes of a comparison graph with an edge wherever two were judged against
-- each other. Judgments say nothing about models of different connected components (A beat
-- B, C beat D): each component is fitted on its own and its ratings are comparable only with
-- each other, never across components. Within one, fitted by Newton's method with step
-- halving on the log-likelihood, ties counting one half win each way, plus a weak normal
-- prior b ~ N(0, prior_sd^2) that keeps every strength finite and centres the component at
-- 0. A model with neither a loss nor a tie (or neither a win nor a tie) would get an infinite
-- strength from the judgments alone: its finite rating is the prior's (prior_bound). Intervals come from the
-- curvature at the optimum (Laplace approximation), projected on sum(b) = 0 within the
-- component: each model against the average of its component. Shown on the Elo scale,
-- 1000 + 400 b / ln 10.

-- The result gained component and prior_bound: CREATE OR REPLACE cannot change a result
-- type, so the older function goes, with the view over it (both are created again below).
-- Only the older one: applied again, this file changes nothing.
DO $$
DECLARE
    old regprocedure := to_regprocedure(
        'evaltool.bradley_terry(text, text, bigint, double precision, double precision)');
BEGIN
    IF old IS NOT NULL AND NOT EXISTS (SELECT FROM pg_proc p
                                       WHERE p.oid = old AND 'prior_bound' = ANY (p.proargnames))
    THEN
        DROP VIEW IF EXISTS evaltool.model_rating;
        DROP FUNCTION IF EXISTS
            evaltool.bradley_terry(text, text, bigint, double precision, double precision);
    END IF;
END
$$;

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

CREATE OR REPLACE FUNCTION evaltool.bradley_terry_fit(wins double precision[],
                                                      games double precision[],
                                                      prior_sd double precision,
                                                      OUT strength double precision[],
                                                      OUT strength_se double precision[])
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
-- One component's strengths, its matrices indexed by model: wins[i][j] judgments i won
-- against j (ties as halves), games[i][j] judgments between i and j.
DECLARE
    k integer := array_length(wins, 1);
    w double precision[] := wins;
    n double precision[] := games;
    b double precision[];     -- strengths
    grad double precision[];
    hess double precision[];
    cov double precision[];
    step double precision[];
    trial double precision[];
    se double precision[];
    f double precision;
    f_trial double precision;
    scale double precision;
    p double precision;
    v double precision;
BEGIN
    b := array_fill(0::double precision, ARRAY[k]);
    f := evaltool.bradley_terry_loglik(b, w, bradley_terry_fit.prior_sd);
    FOR iteration IN 1 .. 100 LOOP
        -- Gradient and negative Hessian of the log-posterior at b.
        grad := array_fill(0::double precision, ARRAY[k]);
        hess := array_fill(0::double precision, ARRAY[k, k]);
        FOR a IN 1 .. k LOOP
            grad[a] := -b[a] / bradley_terry_fit.prior_sd ^ 2;
            hess[a][a] := 1 / bradley_terry_fit.prior_sd ^ 2;
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
            f_trial := evaltool.bradley_terry_loglik(trial, w, bradley_terry_fit.prior_sd);
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
    strength := b;
    strength_se := se;
END
$$;
COMMENT ON FUNCTION evaltool.bradley_terry_fit(double precision[], double precision[], double precision) IS
    'Bradley-Terry strengths (log-odds, summing to 0) of the models of one connected comparison graph and their standard errors about the mean, by Newton''s method on the log-posterior with a N(0, prior_sd^2) prior; wins[i][j]: judgments i won against j (ties as halves), games[i][j]: judgments between i and j.';

CREATE OR REPLACE FUNCTION evaltool.bradley_terry(judge_kind text DEFAULT NULL,
                                                  judge text DEFAULT NULL,
                                                  dataset_id bigint DEFAULT NULL,
                                                  prior_sd double precision DEFAULT 4,
                                                  confidence double precision DEFAULT 0.95)
    RETURNS TABLE (rank bigint, model text, rating double precision,
                   rating_low double precision, rating_high double precision,
                   strength double precision, strength_se double precision,
                   judgments bigint, wins bigint, losses bigint, ties bigint,
                   component integer, prior_bound boolean)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
DECLARE
    xs bigint[]; ys bigint[]; xw bigint[]; yw bigint[]; tt bigint[];
    ids bigint[];
    names text[];
    k integer;
    w double precision[];     -- w[i][j]: judgments i won against j, ties counting one half
    n double precision[];     -- n[i][j]: judgments between i and j
    b double precision[];     -- strengths
    se double precision[];
    won bigint[]; lost bigint[]; tied bigint[];
    comp integer[];           -- comp[i]: i's connected component, 1 the largest
    found integer;
    queue integer[];
    members integer[];
    sub_w double precision[];
    sub_n double precision[];
    sub_b double precision[];
    sub_se double precision[];
    head integer;
    size integer;
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
    names := ARRAY(SELECT mo.name FROM unnest(ids) WITH ORDINALITY AS u(id, o)
                   JOIN evaltool.model mo ON mo.id = u.id ORDER BY u.o);
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

    -- Connected components, by breadth-first search from each model not yet reached; then
    -- numbered by size, largest first, ties by the smallest model name.
    comp := array_fill(0, ARRAY[k]);
    found := 0;
    FOR a IN 1 .. k LOOP
        CONTINUE WHEN comp[a] > 0;
        found := found + 1;
        comp[a] := found;
        queue := ARRAY[a];
        head := 1;
        WHILE head <= array_length(queue, 1) LOOP
            i := queue[head];
            head := head + 1;
            FOR c IN 1 .. k LOOP
                IF comp[c] = 0 AND n[i][c] > 0 THEN
                    comp[c] := found;
                    queue := queue || c;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
    comp := ARRAY(
        SELECT o.new FROM unnest(comp) WITH ORDINALITY AS u(c, i)
        JOIN (SELECT s.c, row_number() OVER (ORDER BY count(*) DESC, min(s.name))::integer
              FROM unnest(comp, names) AS s(c, name) GROUP BY s.c) AS o(c, new) ON o.c = u.c
        ORDER BY u.i);

    -- Each component fitted on its own: no judgment ties its scale to another's.
    b := array_fill(0::double precision, ARRAY[k]);
    se := array_fill(0::double precision, ARRAY[k]);
    FOR cc IN 1 .. found LOOP
        members := ARRAY(SELECT u.i FROM unnest(comp) WITH ORDINALITY AS u(c, i)
                         WHERE u.c = cc ORDER BY u.i);
        size := array_length(members, 1);
        sub_w := array_fill(0::double precision, ARRAY[size, size]);
        sub_n := array_fill(0::double precision, ARRAY[size, size]);
        FOR a IN 1 .. size LOOP
            FOR c IN 1 .. size LOOP
                sub_w[a][c] := w[members[a]][members[c]];
                sub_n[a][c] := n[members[a]][members[c]];
            END LOOP;
        END LOOP;
        SELECT f.strength, f.strength_se INTO sub_b, sub_se
        FROM evaltool.bradley_terry_fit(sub_w, sub_n, bradley_terry.prior_sd) AS f;
        FOR a IN 1 .. size LOOP
            b[members[a]] := sub_b[a];
            se[members[a]] := sub_se[a];
        END LOOP;
    END LOOP;

    z := evaltool.norm_quantile(1 - (1 - bradley_terry.confidence) / 2);
    RETURN QUERY
    SELECT rank() OVER (PARTITION BY u.comp ORDER BY u.b DESC), u.name,
           1000 + elo * u.b, 1000 + elo * (u.b - z * u.se), 1000 + elo * (u.b + z * u.se),
           u.b, u.se, u.won + u.lost + u.tied, u.won, u.lost, u.tied,
           u.comp, u.won + u.tied = 0 OR u.lost + u.tied = 0
    FROM unnest(names, b, se, won, lost, tied, comp) AS u(name, b, se, won, lost, tied, comp)
    ORDER BY u.comp, u.b DESC, u.name;
END
$$;
COMMENT ON FUNCTION evaltool.bradley_terry(text, text, bigint, double precision, double precision) IS
    'Bradley-Terry rating per model from pairwise judgments (ties as half wins), with a weak N(0, prior_sd^2) prior on the strengths and Laplace intervals at the given confidence relative to the mean strength of the model''s component; strength in log-odds, rating on the Elo scale (1000 + 400 b / ln 10). Each connected component of the comparison graph (models joined by any judgment between them; 1 the largest, ties by smallest model name) is fitted and ranked on its own: ratings of different components are not comparable. prior_bound marks a model that never lost or never won, a tie counting as half of each (so a model with wins and ties but no loss is not marked): the judgments alone would put its strength at infinity, and its rating is set by the prior. Filters: judge kind, judge, dataset (NULL: all).';

CREATE OR REPLACE VIEW evaltool.model_rating AS
SELECT * FROM evaltool.bradley_terry();

COMMENT ON VIEW evaltool.model_rating IS
    'Bradley-Terry rating per model over all pairwise judgments, by component of the comparison graph, best first, with 95% intervals (evaltool.bradley_terry() filters by judge kind, judge and dataset).';
COMMENT ON COLUMN evaltool.model_rating.rank IS 'Rank by strength within the component, 1 for the best.';
COMMENT ON COLUMN evaltool.model_rating.model IS 'Model name.';
COMMENT ON COLUMN evaltool.model_rating.rating IS 'Rating on the Elo scale: 1000 + 400 strength / ln 10; 1000 is the average of the models of the component. Comparable only within a component.';
COMMENT ON COLUMN evaltool.model_rating.rating_low IS 'Lower end of the 95% interval of the rating.';
COMMENT ON COLUMN evaltool.model_rating.rating_high IS 'Upper end of the 95% interval of the rating.';
COMMENT ON COLUMN evaltool.model_rating.strength IS 'Bradley-Terry strength in log-odds, centred at 0 within the component: e^(b_i - b_j) are the odds that i is preferred to j.';
COMMENT ON COLUMN evaltool.model_rating.strength_se IS 'Standard error of the strength relative to the mean strength of the component.';
COMMENT ON COLUMN evaltool.model_rating.judgments IS 'Judgments the model took part in (against another model).';
COMMENT ON COLUMN evaltool.model_rating.wins IS 'Judgments that preferred the model.';
COMMENT ON COLUMN evaltool.model_rating.losses IS 'Judgments that preferred the other model.';
COMMENT ON COLUMN evaltool.model_rating.ties IS 'Judgments that called a tie.';
COMMENT ON COLUMN evaltool.model_rating.component IS 'Connected component of the comparison graph (models joined by any judgment between them), 1 for the one with the most models: ratings of different components are not comparable.';
COMMENT ON COLUMN evaltool.model_rating.prior_bound IS 'True when the model never lost or never won (a tie counting as half of each): the judgments alone would put its strength at infinity, and its rating is set by the prior.';
