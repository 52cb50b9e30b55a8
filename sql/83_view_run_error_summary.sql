-- evaltool.run_error_summary: a run's failed calls grouped by what went wrong.
CREATE OR REPLACE VIEW evaltool.run_error_summary AS
SELECT x.run_id,
       left(split_part(x.error, E'\n', 1), 300) AS error,
       count(*) AS responses,
       sum(x.attempts) AS attempts,
       min(coalesce(x.started_at, x.created_at)) AS first_at,
       max(coalesce(x.started_at, x.created_at)) AS last_at,
       (array_agg(coalesce(p.external_id, p.id::text) ORDER BY p.id))[1:5] AS examples
FROM evaltool.response x
JOIN evaltool.prompt p ON p.id = x.prompt_id
WHERE x.status = 'error'
GROUP BY x.run_id, 2;

COMMENT ON VIEW evaltool.run_error_summary IS
    'Error responses per run, grouped by the first line of their error message (up to 300 characters): how many, when, and a few of the test cases.';
COMMENT ON COLUMN evaltool.run_error_summary.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.run_error_summary.error IS 'First line of the error message, cut at 300 characters.';
COMMENT ON COLUMN evaltool.run_error_summary.responses IS 'Error responses with this message.';
COMMENT ON COLUMN evaltool.run_error_summary.attempts IS 'Calls made for them, retries included.';
COMMENT ON COLUMN evaltool.run_error_summary.first_at IS 'When the first of these calls started.';
COMMENT ON COLUMN evaltool.run_error_summary.last_at IS 'When the last of these calls started.';
COMMENT ON COLUMN evaltool.run_error_summary.examples IS 'Up to five of the test cases (external id, else prompt id), first by id.';
