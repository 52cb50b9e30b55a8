-- pairs_count --
-- The test cases two runs both answered (their first samples): how many, how many with an error response on
-- either side (never sent to a judge), and how many the judge already judged.
SELECT count(*),
       count(*) FILTER (WHERE a.status <> 'ok' OR b.status <> 'ok'),
       count(*) FILTER (WHERE EXISTS (
           SELECT FROM evaltool.preference p
           WHERE least(p.response_a_id, p.response_b_id) = least(a.id, b.id)
             AND greatest(p.response_a_id, p.response_b_id) = greatest(a.id, b.id)
             AND p.judge = %(judge)s))
FROM evaltool.response a
JOIN evaltool.response b ON b.prompt_id = a.prompt_id AND b.run_id = %(run_b)s AND b.sample = 1
WHERE a.run_id = %(run_a)s AND a.sample = 1

-- pairs_next --
-- The next test cases after %(after)s (by id) that both runs answered without error and
-- the judge has not judged: input, expected and both responses.
SELECT u.prompt_id, p.input, p.expected, u.response_a_id, u.output_a_text, u.output_a,
       u.response_b_id, u.output_b_text, u.output_b
FROM evaltool.pairs_to_judge(%(run_a)s, %(run_b)s, %(judge)s) u
JOIN evaltool.prompt p ON p.id = u.prompt_id
WHERE u.prompt_id > %(after)s
ORDER BY u.prompt_id
LIMIT %(limit)s

-- pairs_export --
-- The test cases both runs answered without error and %(judge)s (if any) has not judged,
-- as JSON lines for people to judge. Which run's response is A is drawn per test case
-- from the seed, so that A is not always the same model; the models are not named. The
-- annotator fills in "winner" and may add a "reason".
COPY (
    -- json, not jsonb, to keep the keys in the order an annotator reads them
    SELECT json_build_object(
               'response_a', CASE WHEN o.swap THEN u.response_b_id ELSE u.response_a_id END,
               'response_b', CASE WHEN o.swap THEN u.response_a_id ELSE u.response_b_id END,
               'id', p.external_id, 'input', p.input, 'expected', p.expected,
               'output_a', CASE WHEN o.swap THEN o.b_out ELSE o.a_out END,
               'output_b', CASE WHEN o.swap THEN o.a_out ELSE o.b_out END,
               'winner', NULL, 'reason', NULL)
    FROM evaltool.pairs_to_judge(%(run_a)s, %(run_b)s, %(judge)s) u
    JOIN evaltool.prompt p ON p.id = u.prompt_id
    CROSS JOIN LATERAL (
        SELECT coalesce(u.output_a_text, u.output_a::text),
               coalesce(u.output_b_text, u.output_b::text),
               get_byte(sha256(convert_to(%(seed)s::text || ':' || u.prompt_id, 'UTF8')), 0) & 1 = 1
    ) AS o(a_out, b_out, swap)
    ORDER BY u.prompt_id
    LIMIT %(limit)s
) TO STDOUT

-- pairs_write --
-- One batch of a judge model's verdicts; a pair judged meanwhile keeps its judgment.
INSERT INTO evaltool.preference
    (response_a_id, response_b_id, winner, judge_kind, judge, reason, details)
SELECT a, b, w, 'model', %(judge)s, r, d
FROM unnest(%(a)s::bigint[], %(b)s::bigint[], %(winner)s::text[], %(reason)s::text[],
            %(details)s::jsonb[]) AS v(a, b, w, r, d)
ON CONFLICT (prompt_id, (least(response_a_id, response_b_id)), (greatest(response_a_id, response_b_id)), judge)
DO NOTHING

-- pairs_tally --
-- A judge's verdicts between the responses of two runs, as run A against run B: wins,
-- ties, A's win rate among decisive verdicts with its 95% Wilson interval, and the exact
-- two-sided sign test.
WITH v AS (
    SELECT count(*) FILTER (WHERE winner_run = %(run_a)s) AS a_wins,
           count(*) FILTER (WHERE winner_run = %(run_b)s) AS b_wins,
           count(*) FILTER (WHERE winner_run IS NULL) AS ties
    FROM (SELECT CASE o.winner WHEN 'a' THEN o.run_a_id WHEN 'b' THEN o.run_b_id END
                     AS winner_run
          FROM evaltool.preference_outcome o
          WHERE o.judge = %(judge)s
            AND ((o.run_a_id = %(run_a)s AND o.run_b_id = %(run_b)s)
              OR (o.run_a_id = %(run_b)s AND o.run_b_id = %(run_a)s))) AS x
)
SELECT v.a_wins, v.b_wins, v.ties,
       v.a_wins::double precision / nullif(v.a_wins + v.b_wins, 0) AS a_win_rate,
       w.low, w.high, evaltool.mcnemar_exact_p(v.a_wins, v.b_wins) AS p_value
FROM v CROSS JOIN LATERAL evaltool.wilson_interval(v.a_wins, v.a_wins + v.b_wins) AS w

-- ratings --
-- Bradley-Terry ratings per model (sql/86_fn_bradley_terry.sql).
SELECT * FROM evaltool.bradley_terry(%(judge_kind)s, %(judge)s, %(dataset_id)s)

-- win_rates --
-- Win rates per pair of models (sql/85_fn_win_rates.sql).
SELECT * FROM evaltool.win_rates(%(judge_kind)s, %(judge)s, %(dataset_id)s)
