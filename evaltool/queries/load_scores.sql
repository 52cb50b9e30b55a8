-- score_rows_create --
-- Staged score lines, each matched to its response by "response_id", or by "id" or
-- "input" of the test case (and "sample", 1 unless given) within the run, with the reason
-- it cannot be loaded.
CREATE TEMP VIEW evaltool_rows AS
SELECT s.ord, s.doc, coalesce(direct.id, by_id.id, by_input.id) AS response_id,
       CASE
           WHEN jsonb_typeof(s.doc) <> 'object' THEN 'not a JSON object'
           WHEN jsonb_typeof(s.doc -> 'response_id') NOT IN ('number', 'null')
               THEN '"response_id" must be a number'
           WHEN jsonb_typeof(s.doc -> 'sample') NOT IN ('number', 'null')
               THEN '"sample" must be a number'
           WHEN s.doc ? 'response_id' AND direct.id IS NULL
               THEN format('no response %s%s', s.doc -> 'response_id',
                           CASE WHEN c.run_id IS NOT NULL THEN ' in run ' || c.run_id END)
           WHEN NOT s.doc ? 'response_id' AND c.run_id IS NULL
               THEN 'no "response_id": name it, or give --run and the test case''s "id" or "input"'
           WHEN NOT s.doc ? 'response_id' AND coalesce(s.doc -> 'id', s.doc -> 'input', 'null') = 'null'
               THEN 'name the response with "response_id", or the test case with "id" or "input"'
           -- both given: they must name one test case, not leave the choice to evaltool
           WHEN NOT s.doc ? 'response_id' AND s.doc ->> 'id' IS NOT NULL
                AND coalesce(s.doc -> 'input', 'null') <> 'null'
                AND p_id.prompt_hash <> evaltool.json_hash(s.doc -> 'input')
               THEN format('"id" %s and "input" name different test cases', s.doc -> 'id')
           WHEN coalesce(direct.id, by_id.id, by_input.id) IS NULL
               THEN 'the run has no response for this test case'
           WHEN jsonb_typeof(s.doc -> 'metric') <> 'string' OR s.doc ->> 'metric' = ''
               THEN '"metric" must be a non-empty string'
           WHEN jsonb_typeof(s.doc -> 'value') NOT IN ('number', 'null')
               THEN '"value" must be a number'
           -- what double precision holds
           WHEN jsonb_typeof(s.doc -> 'value') = 'number'
                AND (abs((s.doc -> 'value')::numeric) > 1e300
                     OR ((s.doc -> 'value')::numeric <> 0
                         AND abs((s.doc -> 'value')::numeric) < 1e-300))
               THEN '"value" is out of range (from -1e300 to 1e300; 0, or at least 1e-300 from it)'
           WHEN jsonb_typeof(s.doc -> 'passed') NOT IN ('boolean', 'null')
               THEN '"passed" must be true or false'
           WHEN coalesce(s.doc -> 'value', 'null') = 'null' AND coalesce(s.doc -> 'passed', 'null') = 'null'
               THEN 'a score needs "value" or "passed"'
           WHEN jsonb_typeof(s.doc -> 'details') NOT IN ('object', 'null')
               THEN '"details" must be an object'
           WHEN jsonb_typeof(s.doc -> 'scorer') NOT IN ('string', 'null') OR s.doc ->> 'scorer' = ''
               THEN '"scorer" must be a non-empty string'
       END AS reason
FROM pg_temp.evaltool_stage s
CROSS JOIN pg_temp.evaltool_load_context c
LEFT JOIN evaltool.response direct
       ON jsonb_typeof(s.doc -> 'response_id') = 'number'
      AND direct.id = (s.doc ->> 'response_id')::numeric
      AND (c.run_id IS NULL OR direct.run_id = c.run_id)
LEFT JOIN evaltool.prompt p_id
       ON NOT s.doc ? 'response_id' AND p_id.dataset_id = c.dataset_id
      AND p_id.external_id = s.doc ->> 'id'
LEFT JOIN evaltool.response by_id
       ON by_id.run_id = c.run_id AND by_id.prompt_id = p_id.id
      AND by_id.sample = CASE WHEN jsonb_typeof(s.doc -> 'sample') = 'number'
                               THEN (s.doc ->> 'sample')::numeric ELSE 1 END
LEFT JOIN evaltool.prompt p_in
       ON NOT s.doc ? 'response_id' AND s.doc ->> 'id' IS NULL AND p_in.dataset_id = c.dataset_id
      AND p_in.prompt_hash = evaltool.json_hash(s.doc -> 'input')
LEFT JOIN evaltool.response by_input
       ON by_input.run_id = c.run_id AND by_input.prompt_id = p_in.id
      AND by_input.sample = CASE WHEN jsonb_typeof(s.doc -> 'sample') = 'number'
                               THEN (s.doc ->> 'sample')::numeric ELSE 1 END
WHERE s.doc IS NOT NULL

-- score_insert --
-- One score per response and metric; a metric the response already has keeps its score.
-- The scores of each run, metric, scorer and version form one scoring.
WITH valid AS (
    SELECT DISTINCT ON (r.response_id, r.doc ->> 'metric')
           r.response_id, x.run_id, r.doc ->> 'metric' AS metric,
           nullif(r.doc -> 'value', 'null')::double precision AS value,
           nullif(r.doc -> 'passed', 'null')::boolean AS passed,
           coalesce(nullif(r.doc -> 'details', 'null'), '{}') AS details,
           coalesce(r.doc ->> 'scorer', %(scorer)s) AS scorer,
           coalesce(r.doc ->> 'scorer_version', '1') AS scorer_version
    FROM pg_temp.evaltool_rows r
    JOIN evaltool.response x ON x.id = r.response_id
    WHERE r.reason IS NULL OR (NOT %(skip_invalid)s AND evaltool.load_reject(r.ord, r.reason))
    ORDER BY r.response_id, r.doc ->> 'metric', r.ord
), fresh AS (
    SELECT v.* FROM valid v
    WHERE NOT EXISTS (SELECT FROM evaltool.score s
                      WHERE s.run_id = v.run_id AND s.response_id = v.response_id
                        AND s.metric = v.metric)
), scorings AS (
    INSERT INTO evaltool.scoring (run_id, metric, scorer, scorer_version, scores, created_by)
    SELECT run_id, metric, scorer, scorer_version, count(*),
           coalesce(nullif(current_setting('evaltool.actor', true), ''), current_user)
    FROM fresh
    GROUP BY run_id, metric, scorer, scorer_version
    RETURNING id, run_id, metric, scorer, scorer_version
)
INSERT INTO evaltool.score (run_id, response_id, metric, value, passed, details, scorer,
                            scorer_version, scoring_id)
SELECT f.run_id, f.response_id, f.metric, f.value, f.passed, f.details, f.scorer,
       f.scorer_version, g.id
FROM fresh f
JOIN scorings g USING (run_id, metric, scorer, scorer_version)
ORDER BY f.response_id
