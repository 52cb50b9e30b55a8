-- evaltool.pairs_to_judge: the pairs of two runs' responses that a judge has yet to judge,
-- for the judge model (preferences judge) and for people (preferences export).
-- requires: 0009_repeats
CREATE OR REPLACE FUNCTION evaltool.pairs_to_judge(run_a bigint, run_b bigint, judge text)
    RETURNS TABLE (prompt_id bigint, response_a_id bigint, output_a_text text, output_a jsonb,
                   response_b_id bigint, output_b_text text, output_b jsonb)
    LANGUAGE sql STABLE AS
$$
SELECT a.prompt_id, a.id, a.output_text, a.output, b.id, b.output_text, b.output
FROM evaltool.response a
JOIN evaltool.response b ON b.prompt_id = a.prompt_id AND b.run_id = pairs_to_judge.run_b
                          AND b.sample = 1
WHERE a.run_id = pairs_to_judge.run_a AND a.sample = 1  -- one pair per test case
  AND a.status = 'ok' AND b.status = 'ok'
  AND NOT EXISTS (
      SELECT FROM evaltool.preference x
      WHERE least(x.response_a_id, x.response_b_id) = least(a.id, b.id)
        AND greatest(x.response_a_id, x.response_b_id) = greatest(a.id, b.id)
        AND x.judge = pairs_to_judge.judge)
$$;

COMMENT ON FUNCTION evaltool.pairs_to_judge(bigint, bigint, text) IS
    'Test cases that runs RUN_A and RUN_B both answered without error and that JUDGE (NULL: nobody) has not judged, in either order: the test case and both responses (the first sample of a repeated run). Inlined into the queries that call it.';
