-- requires: 0006_preference
-- Win rates per pair of models from pairwise judgments, with a Wilson interval and the
-- exact sign test. Judgments of two responses of the same model are left out.
CREATE OR REPLACE FUNCTION evaltool.preference_tally(judge_kind text DEFAULT NULL,
                                                     judge text DEFAULT NULL,
                                                     dataset_id bigint DEFAULT NULL)
    RETURNS TABLE (model_x_id bigint, model_y_id bigint, x_wins bigint, y_wins bigint,
                   ties bigint)
    LANGUAGE sql STABLE AS
$$
SELECT least(o.model_a_id, o.model_b_id), greatest(o.model_a_id, o.model_b_id),
       count(*) FILTER (WHERE o.winner_model_id = least(o.model_a_id, o.model_b_id)),
       count(*) FILTER (WHERE o.winner_model_id = greatest(o.model_a_id, o.model_b_id)),
       count(*) FILTER (WHERE o.winner = 'tie')
FROM evaltool.preference_outcome o
WHERE o.model_a_id <> o.model_b_id
  AND (preference_tally.judge_kind IS NULL OR o.judge_kind = preference_tally.judge_kind)
  AND (preference_tally.judge IS NULL OR o.judge = preference_tally.judge)
  AND (preference_tally.dataset_id IS NULL OR o.dataset_id = preference_tally.dataset_id)
GROUP BY 1, 2
$$;
COMMENT ON FUNCTION evaltool.preference_tally(text, text, bigint) IS
    'Wins and ties per pair of distinct models (x the lower model id), from the judgments of one judge kind, judge and dataset (NULL: all).';

CREATE OR REPLACE FUNCTION evaltool.win_rates(judge_kind text DEFAULT NULL,
                                              judge text DEFAULT NULL,
                                              dataset_id bigint DEFAULT NULL,
                                              alpha double precision DEFAULT 0.05)
    RETURNS TABLE (model_x text, model_y text, judgments bigint, x_wins bigint, y_wins bigint,
                   ties bigint, x_win_rate double precision, x_win_rate_low double precision,
                   x_win_rate_high double precision, x_score double precision,
                   p_value double precision, better text)
    LANGUAGE sql STABLE AS
$$
SELECT mx.name, my.name, t.x_wins + t.y_wins + t.ties, t.x_wins, t.y_wins, t.ties,
       t.x_wins::double precision / nullif(t.x_wins + t.y_wins, 0),
       w.low, w.high,
       (t.x_wins + 0.5 * t.ties) / (t.x_wins + t.y_wins + t.ties),
       p.p,
       CASE WHEN p.p < win_rates.alpha THEN CASE WHEN t.x_wins > t.y_wins THEN mx.name
                                                 ELSE my.name END END
FROM evaltool.preference_tally(win_rates.judge_kind, win_rates.judge,
                               win_rates.dataset_id) AS t
JOIN evaltool.model mx ON mx.id = t.model_x_id
JOIN evaltool.model my ON my.id = t.model_y_id
CROSS JOIN LATERAL evaltool.wilson_interval(t.x_wins, t.x_wins + t.y_wins, 1 - win_rates.alpha) AS w
CROSS JOIN LATERAL (SELECT evaltool.mcnemar_exact_p(t.x_wins, t.y_wins)) AS p(p)
ORDER BY mx.name, my.name
$$;
COMMENT ON FUNCTION evaltool.win_rates(text, text, bigint, double precision) IS
    'Per pair of models: judgments, wins of each, ties, x''s win rate among decisive judgments with its Wilson interval at 1 - alpha, x''s score (ties count one half), the exact two-sided sign test p-value (ties left out), and the better model where p < alpha. Filters: judge kind, judge, dataset (NULL: all).';

CREATE OR REPLACE VIEW evaltool.preference_win_rate AS
SELECT * FROM evaltool.win_rates();

COMMENT ON VIEW evaltool.preference_win_rate IS
    'Win rates per pair of models over all pairwise judgments (evaltool.win_rates() filters by judge kind, judge and dataset).';
COMMENT ON COLUMN evaltool.preference_win_rate.model_x IS 'One model of the pair (the one registered first).';
COMMENT ON COLUMN evaltool.preference_win_rate.model_y IS 'The other model.';
COMMENT ON COLUMN evaltool.preference_win_rate.judgments IS 'Judgments between responses of the two models.';
COMMENT ON COLUMN evaltool.preference_win_rate.x_wins IS 'Judgments that preferred model_x.';
COMMENT ON COLUMN evaltool.preference_win_rate.y_wins IS 'Judgments that preferred model_y.';
COMMENT ON COLUMN evaltool.preference_win_rate.ties IS 'Judgments that called a tie.';
COMMENT ON COLUMN evaltool.preference_win_rate.x_win_rate IS 'x_wins / (x_wins + y_wins): model_x''s share of the decisive judgments.';
COMMENT ON COLUMN evaltool.preference_win_rate.x_win_rate_low IS 'Lower end of the 95% Wilson interval of x_win_rate.';
COMMENT ON COLUMN evaltool.preference_win_rate.x_win_rate_high IS 'Upper end of the 95% Wilson interval of x_win_rate.';
COMMENT ON COLUMN evaltool.preference_win_rate.x_score IS '(x_wins + ties / 2) / judgments: model_x''s score with ties as half wins.';
COMMENT ON COLUMN evaltool.preference_win_rate.p_value IS 'Two-sided exact sign test of x_wins against y_wins (ties left out).';
COMMENT ON COLUMN evaltool.preference_win_rate.better IS 'The model preferred significantly (p < 0.05), else NULL.';
