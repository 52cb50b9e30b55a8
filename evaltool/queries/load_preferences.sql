-- preference_rows_create --
-- Staged judgments, each naming its two responses by "response_a" and "response_b" (ids),
-- or, with --run-a and --run-b, its test case by "id" or "input"; with the winner as
-- a, b or tie and the reason a line cannot be loaded (NULL when it can).
CREATE TEMP VIEW evaltool_rows AS
SELECT s.ord, s.doc, coalesce(direct_a.id, case_a.id) AS response_a_id,
       coalesce(direct_b.id, case_b.id) AS response_b_id, w.winner,
       CASE
           WHEN jsonb_typeof(s.doc) <> 'object' THEN 'not a JSON object'
           WHEN jsonb_typeof(s.doc -> 'response_a') NOT IN ('number', 'null')
                OR jsonb_typeof(s.doc -> 'response_b') NOT IN ('number', 'null')
               THEN '"response_a" and "response_b" must be response ids'
           WHEN (s.doc ? 'response_a') <> (s.doc ? 'response_b')
               THEN 'give both "response_a" and "response_b", or neither'
           WHEN s.doc ? 'response_a' AND direct_a.id IS NULL
               THEN format('no response %s%s', s.doc -> 'response_a',
                           CASE WHEN c.run_id IS NOT NULL THEN ' in run ' || c.run_id END)
           WHEN s.doc ? 'response_b' AND direct_b.id IS NULL
               THEN format('no response %s%s', s.doc -> 'response_b',
                           CASE WHEN c.run_b_id IS NOT NULL THEN ' in run ' || c.run_b_id END)
           WHEN NOT s.doc ? 'response_a' AND c.run_b_id IS NULL
               THEN 'no "response_a" and "response_b": name them, or give --run-a and --run-b and the test case''s "id" or "input"'
           WHEN NOT s.doc ? 'response_a' AND coalesce(s.doc -> 'id', s.doc -> 'input', 'null') = 'null'
               THEN 'name the responses with "response_a" and "response_b", or the test case with "id" or "input"'
           WHEN NOT s.doc ? 'response_a' AND coalesce(p_id.id, p_in.id) IS NULL
               THEN 'no such test case in the runs'' dataset'
           WHEN case_a.id IS NULL AND direct_a.id IS NULL
               THEN format('run %s has no response for this test case', c.run_id)
           WHEN case_b.id IS NULL AND direct_b.id IS NULL
               THEN format('run %s has no response for this test case', c.run_b_id)
           WHEN coalesce(direct_a.id, case_a.id) = coalesce(direct_b.id, case_b.id)
               THEN 'response A and response B are the same response'
           WHEN direct_a.prompt_id <> direct_b.prompt_id
               THEN 'the two responses answer different test cases'
           WHEN coalesce(s.doc -> 'winner', 'null') = 'null'
               THEN 'no "winner" yet: set it to "a", "b" or "tie"'
           WHEN w.winner IS NULL
               THEN '"winner" must be "a", "b" or "tie"'
           WHEN jsonb_typeof(s.doc -> 'judge') NOT IN ('string', 'null') OR s.doc ->> 'judge' = ''
               THEN '"judge" must be a non-empty string'
           WHEN jsonb_typeof(s.doc -> 'judge_kind') NOT IN ('string', 'null')
                OR s.doc ->> 'judge_kind' NOT IN ('human', 'model')
               THEN '"judge_kind" must be human or model'
           WHEN jsonb_typeof(s.doc -> 'reason') NOT IN ('string', 'null')
               THEN '"reason" must be a string'
           WHEN jsonb_typeof(s.doc -> 'details') NOT IN ('object', 'null')
               THEN '"details" must be an object'
       END AS reason
FROM pg_temp.evaltool_stage s
CROSS JOIN pg_temp.evaltool_load_context c
CROSS JOIN LATERAL (
    -- also the spellings of Chatbot Arena exports
    SELECT CASE WHEN jsonb_typeof(s.doc -> 'winner') <> 'string' THEN NULL
                WHEN lower(s.doc ->> 'winner') IN ('a', 'model_a', 'response_a') THEN 'a'
                WHEN lower(s.doc ->> 'winner') IN ('b', 'model_b', 'response_b') THEN 'b'
                WHEN lower(s.doc ->> 'winner') IN ('tie', 'tie (bothbad)', 'draw') THEN 'tie'
           END AS winner
) AS w
LEFT JOIN evaltool.response direct_a
       ON jsonb_typeof(s.doc -> 'response_a') = 'number'
      AND direct_a.id = (s.doc ->> 'response_a')::numeric
      AND (c.run_id IS NULL OR direct_a.run_id = c.run_id)
LEFT JOIN evaltool.response direct_b
       ON jsonb_typeof(s.doc -> 'response_b') = 'number'
      AND direct_b.id = (s.doc ->> 'response_b')::numeric
      AND (c.run_b_id IS NULL OR direct_b.run_id = c.run_b_id)
LEFT JOIN evaltool.prompt p_id
       ON NOT s.doc ? 'response_a' AND p_id.dataset_id = c.dataset_id
      AND p_id.external_id = s.doc ->> 'id'
LEFT JOIN evaltool.prompt p_in
       ON NOT s.doc ? 'response_a' AND s.doc ->> 'id' IS NULL AND p_in.dataset_id = c.dataset_id
      AND p_in.prompt_hash = evaltool.json_hash(s.doc -> 'input')
LEFT JOIN evaltool.response case_a
       ON case_a.run_id = c.run_id AND case_a.prompt_id = coalesce(p_id.id, p_in.id)
      AND case_a.sample = 1  -- the first sample of a repeated run
LEFT JOIN evaltool.response case_b
       ON case_b.run_id = c.run_b_id AND case_b.prompt_id = coalesce(p_id.id, p_in.id)
      AND case_b.sample = 1  -- the first sample of a repeated run
WHERE s.doc IS NOT NULL

-- preference_insert --
-- One judgment per pair of responses and judge, in either order; a pair the judge already
-- judged keeps its judgment. Fields other than these (and the test case and outputs that
-- preferences export shows) go into details.
INSERT INTO evaltool.preference
    (response_a_id, response_b_id, winner, judge_kind, judge, reason, details)
SELECT r.response_a_id,
       r.response_b_id,
       r.winner,
       coalesce(r.doc ->> 'judge_kind', %(judge_kind)s),
       coalesce(r.doc ->> 'judge', %(judge)s),
       r.doc ->> 'reason',
       (r.doc - '{id,input,expected,output_a,output_b,response_a,response_b,winner,judge,judge_kind,reason,details}'::text[])
         || coalesce(nullif(r.doc -> 'details', 'null'), '{}')
FROM pg_temp.evaltool_rows r
WHERE r.reason IS NULL OR (NOT %(skip_invalid)s AND evaltool.load_reject(r.ord, r.reason))
ON CONFLICT (prompt_id, (least(response_a_id, response_b_id)), (greatest(response_a_id, response_b_id)), judge)
DO NOTHING

-- preference_runs --
-- The datasets of two runs, for loading judgments between their responses (NULL for a
-- run that does not exist).
SELECT (SELECT dataset_id FROM evaltool.run WHERE id = %(run_a)s),
       (SELECT dataset_id FROM evaltool.run WHERE id = %(run_b)s)
