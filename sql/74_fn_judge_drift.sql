-- requires: 0010_score_history
-- requires: 0013_partition_by_run
-- Does a new version of a scorer or judge agree with the old one? Two versions are compared
-- on the same responses of a run (score_history keeps the scores every rescoring replaced),
-- and two judges on the same pairs of responses (preferences):
--
--   cohen_kappa         Cohen's kappa of a square table of counts, with its interval
--   scores_with_history every score of a metric on a run, current and replaced, with its scoring
--   scores_at_version   per response, the score of a metric that one VERSION gave
--   judge_drift         two versions of a scorer or judge on one run: kappa, changes, mean shift
--   judge_agreement     two judges of preferences (or a judge and the people) on the same pairs

CREATE OR REPLACE FUNCTION evaltool.cohen_kappa(cells bigint[],
                                                alpha double precision DEFAULT 0.05)
    RETURNS TABLE (n bigint, agreement double precision, chance_agreement double precision,
                   kappa double precision, se double precision, low double precision,
                   high double precision)
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$$
-- Cells p_ij = count_ij / n (i: the first judge's category, j: the second's), margins
-- r_i = sum_j p_ij and s_j = sum_i p_ij; po = sum p_ii, pe = sum r_i s_i,
-- kappa = (po - pe) / (1 - pe). Its large-sample variance (Fleiss, Cohen and Everitt 1969):
-- [sum_i p_ii (1 - (r_i + s_i)(1 - kappa))^2 + (1 - kappa)^2 sum_{i<>j} p_ij (s_i + r_j)^2
--  - (kappa - pe (1 - kappa))^2] / (n (1 - pe)^2), as statsmodels' cohens_kappa.
DECLARE
    k integer := array_length(cells, 1);
    total double precision := 0;
    r double precision[];
    s double precision[];
    p double precision;
    po double precision := 0;
    pe double precision := 0;
    diag double precision := 0;
    off double precision := 0;
    z double precision;
BEGIN
    IF cells IS NULL OR array_ndims(cells) IS DISTINCT FROM 2
       OR array_length(cells, 2) IS DISTINCT FROM k THEN
        RAISE EXCEPTION 'cohen_kappa takes a square table of counts, as bigint[][], not %', cells
            USING ERRCODE = '22023';
    END IF;
    IF alpha IS NULL OR alpha <= 0 OR alpha >= 1 THEN
        RAISE EXCEPTION 'alpha must be between 0 and 1, not %', alpha USING ERRCODE = '22023';
    END IF;
    r := array_fill(0::double precision, ARRAY[k]);
    s := array_fill(0::double precision, ARRAY[k]);
    FOR i IN 1 .. k LOOP
        FOR j IN 1 .. k LOOP
            total := total + coalesce(cells[i][j], 0);
        END LOOP;
    END LOOP;
    n := total;
    IF total = 0 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    FOR i IN 1 .. k LOOP
        FOR j IN 1 .. k LOOP
            p := coalesce(cells[i][j], 0) / total;
            r[i] := r[i] + p;
            s[j] := s[j] + p;
            IF i = j THEN po := po + p; END IF;
        END LOOP;
    END LOOP;
    FOR i IN 1 .. k LOOP
        pe := pe + r[i] * s[i];
    END LOOP;
    agreement := po;
    chance_agreement := pe;
    -- Both judges always gave one and the same category: kappa is 0 / 0.
    IF pe > 1 - 1e-12 THEN
        RETURN NEXT;
        RETURN;
    END IF;
    kappa := (po - pe) / (1 - pe);
    FOR i IN 1 .. k LOOP
        FOR j IN 1 .. k LOOP
            p := coalesce(cells[i][j], 0) / total;
            IF i = j THEN
                diag := diag + p * (1 - (r[i] + s[i]) * (1 - kappa)) ^ 2;
            ELSE
                off := off + p * (s[i] + r[j]) ^ 2;
            END IF;
        END LOOP;
    END LOOP;
    se := sqrt(greatest(0, (diag + (1 - kappa) ^ 2 * off - (kappa - pe * (1 - kappa)) ^ 2)
                           / (total * (1 - pe) ^ 2)));
    z := evaltool.norm_quantile(1 - alpha / 2);
    low := greatest(-1, kappa - z * se);
    high := least(1, kappa + z * se);
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION evaltool.cohen_kappa(bigint[], double precision) IS
    'Cohen''s kappa of a square table of counts CELLS[i][j] (first judge said i, second said j): n, agreement po = sum p_ii, chance agreement pe = sum r_i s_i (products of the margins), kappa = (po - pe) / (1 - pe), its large-sample standard error by Fleiss, Cohen and Everitt (1969): sqrt([sum_i p_ii (1 - (r_i + s_i)(1 - kappa))^2 + (1 - kappa)^2 sum_{i<>j} p_ij (s_i + r_j)^2 - (kappa - pe (1 - kappa))^2] / (n (1 - pe)^2)), and the interval kappa +- z(1 - alpha/2) se, cut to [-1, 1]. kappa is NULL where pe = 1 (both judges gave one category throughout), the rest too where n = 0.';

CREATE OR REPLACE FUNCTION evaltool.scores_with_history(run_id bigint, metric text)
    RETURNS TABLE (response_id bigint, value double precision, passed boolean,
                   scoring_id bigint, scorer text, scorer_version text, judge_model text,
                   is_current boolean, score_key bigint, created_at timestamptz,
                   superseded_at timestamptz)
    LANGUAGE sql STABLE AS
$$
SELECT s.response_id, s.value, s.passed, s.scoring_id, s.scorer, s.scorer_version,
       g.judge_model, true, s.id, s.created_at, NULL::timestamptz
FROM evaltool.response r
JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id AND s.metric = scores_with_history.metric
LEFT JOIN evaltool.scoring g ON g.id = s.scoring_id
WHERE r.run_id = scores_with_history.run_id
UNION ALL
SELECT h.response_id, h.value, h.passed, h.scoring_id, h.scorer, h.scorer_version,
       g.judge_model, false, h.id, h.created_at, h.superseded_at
FROM evaltool.response r
JOIN evaltool.score_history h ON h.run_id = r.run_id AND h.response_id = r.id
                                 AND h.metric = scores_with_history.metric
LEFT JOIN evaltool.scoring g ON g.id = h.scoring_id
WHERE r.run_id = scores_with_history.run_id
$$;
COMMENT ON FUNCTION evaltool.scores_with_history(bigint, text) IS
    'Every score of METRIC on the responses of a run: the current ones (evaltool.score, is_current) and those a rescoring replaced (evaltool.score_history), each with its scoring id, scorer, scorer version and judge model. score_key is the row''s id in its table.';

CREATE OR REPLACE FUNCTION evaltool.scores_at_version(run_id bigint, metric text, version text)
    RETURNS TABLE (response_id bigint, value double precision, passed boolean,
                   scoring_id bigint, is_current boolean, score_key bigint)
    LANGUAGE sql STABLE AS
$$
SELECT DISTINCT ON (x.response_id) x.response_id, x.value, x.passed, x.scoring_id,
       x.is_current, x.score_key
FROM evaltool.scores_with_history(scores_at_version.run_id, scores_at_version.metric) x
WHERE scores_at_version.version IN (x.scorer_version, x.judge_model, x.scoring_id::text,
                                    'scoring:' || x.scoring_id)
ORDER BY x.response_id, x.is_current DESC, x.created_at DESC, x.superseded_at DESC, x.score_key DESC
$$;
COMMENT ON FUNCTION evaltool.scores_at_version(bigint, text, text) IS
    'Per response of a run, the score of METRIC that VERSION gave: VERSION matches a score (current or in score_history) when it equals its scorer_version, its scoring''s judge_model, or its scoring id as text (''12''); ''scoring:12'' names scoring 12 alone (a number can be a scorer version too). Where several scores of a response match, the current one wins, else the newest.';

CREATE OR REPLACE FUNCTION evaltool.judge_drift(run_id bigint, metric text, from_version text,
                                                to_version text,
                                                alpha double precision DEFAULT 0.05)
    RETURNS TABLE (n bigint, from_scorings bigint[], to_scorings bigint[],
                   n_pass_fail bigint, agreement double precision, kappa double precision,
                   kappa_low double precision, kappa_high double precision,
                   both_passed bigint, from_only_passed bigint, to_only_passed bigint,
                   both_failed bigint, n_changed bigint, n_values bigint,
                   mean_from double precision, mean_to double precision,
                   mean_shift double precision, shift_low double precision,
                   shift_high double precision, p_value double precision)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
DECLARE
    v text;
    versions text;
    scored text;
    same bigint[];
BEGIN
    IF NOT EXISTS (SELECT FROM evaltool.run r WHERE r.id = judge_drift.run_id) THEN
        RAISE EXCEPTION 'no run %', judge_drift.run_id USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(coalesce('scoring:' || x.scoring_id || ' (', '(no scoring: ')
                      || x.scorer || ' version ' || x.scorer_version
                      || coalesce(', judge ' || x.judge_model, '') || ')',
                      ', ' ORDER BY x.scoring_id NULLS FIRST, x.scorer, x.scorer_version)
    INTO versions
    FROM (SELECT DISTINCT h.scoring_id, h.scorer, h.scorer_version, h.judge_model
          FROM evaltool.scores_with_history(judge_drift.run_id, judge_drift.metric) h) x;
    IF versions IS NULL THEN
        SELECT string_agg(DISTINCT s.metric, ', ') INTO scored
        FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
        WHERE r.run_id = judge_drift.run_id;
        RAISE EXCEPTION 'run % has no scores of metric %', judge_drift.run_id,
            quote_literal(judge_drift.metric)
            USING ERRCODE = '22023', HINT = 'scored: ' || coalesce(scored, 'none');
    END IF;
    FOREACH v IN ARRAY ARRAY[from_version, to_version] LOOP
        IF v IS NULL OR NOT EXISTS (
               SELECT FROM evaltool.scores_at_version(judge_drift.run_id, judge_drift.metric, v)) THEN
            RAISE EXCEPTION 'no scores of % on run % match version %; versions: %',
                judge_drift.metric, judge_drift.run_id, coalesce(quote_literal(v), 'NULL'), versions
                USING ERRCODE = '22023';
        END IF;
    END LOOP;
    -- Two versions that pick the very same scores compare a scorer with itself.
    SELECT array_agg(DISTINCT f.scoring_id) INTO same
    FROM evaltool.scores_at_version(judge_drift.run_id, judge_drift.metric, from_version) f
    JOIN evaltool.scores_at_version(judge_drift.run_id, judge_drift.metric, to_version) t
      ON t.response_id = f.response_id AND t.is_current = f.is_current
     AND t.score_key = f.score_key;
    IF same IS NOT NULL THEN
        RAISE EXCEPTION 'versions % and % pick the same scores (scoring %): name each by scoring:ID; versions: %',
            quote_literal(from_version), quote_literal(to_version),
            array_to_string(same, ', ', 'none'), versions USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    WITH pairs AS (
        SELECT f.scoring_id AS f_scoring, t.scoring_id AS t_scoring,
               f.passed AS fp, t.passed AS tp,
               -- differences at 9 decimals, as compare_runs: 0.6 - 0.4 and 0.3 - 0.1 are one size
               round((t.value - f.value) * 1e9) / 1e9 AS d, f.value AS fv, t.value AS tv
        FROM evaltool.scores_at_version(judge_drift.run_id, judge_drift.metric, from_version) f
        JOIN evaltool.scores_at_version(judge_drift.run_id, judge_drift.metric, to_version) t
          ON t.response_id = f.response_id
    ), agg AS (
        SELECT count(*) AS n,
               array_agg(DISTINCT p.f_scoring) FILTER (WHERE p.f_scoring IS NOT NULL) AS fs,
               array_agg(DISTINCT p.t_scoring) FILTER (WHERE p.t_scoring IS NOT NULL) AS ts,
               count(*) FILTER (WHERE p.fp AND p.tp) AS pp,
               count(*) FILTER (WHERE p.fp AND NOT p.tp) AS pf,
               count(*) FILTER (WHERE NOT p.fp AND p.tp) AS fp_,
               count(*) FILTER (WHERE NOT p.fp AND NOT p.tp) AS ff,
               count(p.d) AS nv,
               avg(p.fv) FILTER (WHERE p.d IS NOT NULL) AS mf,
               avg(p.tv) FILTER (WHERE p.d IS NOT NULL) AS mt,
               avg(p.d) AS est,
               sqrt(var_samp(p.d) / count(p.d)) AS se,
               (count(p.d) - 1)::double precision AS df,
               count(*) FILTER (WHERE p.d > 0) AS won,
               count(*) FILTER (WHERE p.d < 0) AS lost,
               coalesce(array_agg(p.d) FILTER (WHERE p.d <> 0), '{}') AS small
        FROM pairs p
    )
    SELECT a.n, coalesce(a.fs, '{}'), coalesce(a.ts, '{}'), a.pp + a.pf + a.fp_ + a.ff,
           k.agreement, k.kappa, k.low, k.high, a.pp, a.pf, a.fp_, a.ff, a.pf + a.fp_,
           a.nv, a.mf, a.mt, a.est, i.low, i.high,
           CASE WHEN a.nv > 1
                THEN evaltool.paired_p('t', a.won, a.lost, a.est, a.se, a.df,
                                       CASE WHEN a.won + a.lost < 25 THEN a.small END) END
    FROM agg a
    CROSS JOIN LATERAL evaltool.cohen_kappa(ARRAY[[a.pp, a.pf], [a.fp_, a.ff]],
                                            judge_drift.alpha) k
    LEFT JOIN LATERAL evaltool.paired_interval('t', a.nv, a.won, a.lost, a.est, a.se, a.df,
                                               judge_drift.alpha) i ON true;
END
$$;
COMMENT ON FUNCTION evaltool.judge_drift(bigint, text, text, text, double precision) IS
    'Two versions of the scorer or judge of METRIC on the same responses of a run (evaltool judges drift). A version names scores by scorer_version, the scoring''s judge_model, or the scoring id (see scores_at_version); each response takes the latest score of each version. One row: n responses scored by both, the scorings read for each side, and of the n_pass_fail with a verdict from both: agreement (share with the same pass/fail), Cohen''s kappa = (po - pe) / (1 - pe) (po: the agreement, pe: the agreement expected from the two pass rates) with its interval kappa +- z(1 - alpha/2) se at the Fleiss-Cohen-Everitt large-sample standard error (formula in cohen_kappa), the confusion both_passed, from_only_passed, to_only_passed, both_failed and n_changed; of the n_values with a value from both: the means and mean_shift (to - from, differences at 9 decimals) with its paired t interval and p-value (paired_interval and paired_p, method t, the exact sign-flip p below 25 non-zero differences). Errors (22023) where a version matches no score, listing the versions there are.';

CREATE OR REPLACE FUNCTION evaltool.judge_agreement(judge_a text, judge_b text,
                                                    alpha double precision DEFAULT 0.05)
    RETURNS TABLE (n bigint, pairs bigint, agreement double precision,
                   chance_agreement double precision, kappa double precision,
                   kappa_low double precision, kappa_high double precision, confusion jsonb)
    LANGUAGE plpgsql STABLE AS
$$
#variable_conflict use_column
DECLARE
    j text;
    judges text;
BEGIN
    IF judge_a IS NULL OR judge_b IS NULL OR judge_a = judge_b THEN
        RAISE EXCEPTION 'name two different judges, not % and %', coalesce(judge_a, 'NULL'),
            coalesce(judge_b, 'NULL') USING ERRCODE = '22023';
    END IF;
    FOREACH j IN ARRAY ARRAY[judge_a, judge_b] LOOP
        IF NOT EXISTS (SELECT FROM evaltool.preference p
                       WHERE p.judge = j OR (j = 'human' AND p.judge_kind = 'human')) THEN
            SELECT string_agg(x.judge, ', ' ORDER BY x.judge) INTO judges
            FROM (SELECT DISTINCT p.judge FROM evaltool.preference p) x;
            RAISE EXCEPTION 'no preferences by judge %; judges: %', quote_literal(j),
                coalesce(judges, 'none') USING ERRCODE = '22023';
        END IF;
    END LOOP;

    RETURN QUERY
    WITH sides AS (
        -- a: the response of the pair with the lower id won, whichever was shown first
        SELECT p.id, p.judge, p.judge_kind,
               least(p.response_a_id, p.response_b_id) AS lo,
               greatest(p.response_a_id, p.response_b_id) AS hi,
               CASE WHEN p.winner = 'tie' THEN 'tie'
                    WHEN (p.winner = 'a') = (p.response_a_id < p.response_b_id) THEN 'a'
                    ELSE 'b' END AS w
        FROM evaltool.preference p
    ), items AS (
        SELECT x.lo, x.hi, x.w AS wa, y.w AS wb
        FROM sides x
        JOIN sides y ON y.lo = x.lo AND y.hi = x.hi AND y.id <> x.id
        WHERE (x.judge = judge_agreement.judge_a
               OR (judge_agreement.judge_a = 'human' AND x.judge_kind = 'human'))
          AND (y.judge = judge_agreement.judge_b
               OR (judge_agreement.judge_b = 'human' AND y.judge_kind = 'human'))
    ), cells AS (
        SELECT ca.w AS wa, cb.w AS wb, ca.o AS oa, cb.o AS ob, count(i.lo) AS c
        FROM (VALUES ('a', 1), ('b', 2), ('tie', 3)) ca(w, o)
        CROSS JOIN (VALUES ('a', 1), ('b', 2), ('tie', 3)) cb(w, o)
        LEFT JOIN items i ON i.wa = ca.w AND i.wb = cb.w
        GROUP BY ca.w, cb.w, ca.o, cb.o
    ), tab AS (
        SELECT array_agg(r.cs ORDER BY r.oa) AS m, jsonb_object_agg(r.wa, r.js) AS confusion
        FROM (SELECT c.wa, c.oa, array_agg(c.c ORDER BY c.ob) AS cs,
                     jsonb_object_agg(c.wb, c.c) AS js
              FROM cells c GROUP BY c.wa, c.oa) r
    )
    SELECT k.n, (SELECT count(*) FROM (SELECT DISTINCT i.lo, i.hi FROM items i) d),
           k.agreement, k.chance_agreement, k.kappa, k.low, k.high, t.confusion
    FROM tab t
    CROSS JOIN LATERAL evaltool.cohen_kappa(t.m, judge_agreement.alpha) k;
END
$$;
COMMENT ON FUNCTION evaltool.judge_agreement(text, text, double precision) IS
    'How two judges of preferences agree on the pairs of responses both judged (evaltool judges agreement). Each side is a judge''s name (a judge model or an annotator), or ''human'' for every human judgment; a pair judged by several people counts once per judgment of each side, and a judgment is never compared with itself. Verdicts are oriented by response id, whichever response was shown first: a means the lower id won. One row: n judgments compared, the distinct pairs, agreement, chance agreement, Cohen''s kappa over a, b and tie with its interval at 1 - alpha (cohen_kappa: Fleiss-Cohen-Everitt standard error), and the confusion as {judge_a''s verdict: {judge_b''s verdict: count}}. Errors (22023) where a judge has no preferences.';
