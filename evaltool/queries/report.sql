-- report_score_histograms --
-- The metrics of a run whose values are more than 0 and 1 (pass rates say the rest), each
-- with its values counted into %(bins)s bins (sql/82_fn_histogram.sql).
SELECT m.metric, h.bucket, h.low, h.high, h.n
FROM (SELECT s.metric FROM evaltool.response x
      JOIN evaltool.score s ON s.run_id = x.run_id AND s.response_id = x.id
      WHERE x.run_id = %(run_id)s
      GROUP BY s.metric
      HAVING bool_or(s.value NOT IN (0, 1))) m
CROSS JOIN LATERAL evaltool.score_histogram(%(run_id)s, m.metric, %(bins)s) h
ORDER BY m.metric, h.bucket

-- report_latency_histogram --
-- Latency of a run's ok responses in %(bins)s bins.
SELECT bucket, low, high, n FROM evaltool.latency_histogram(%(run_id)s, %(bins)s)

-- report_run_errors --
-- The %(limit)s most frequent errors of a run, and how many distinct errors there are.
SELECT e.error, e.responses, e.attempts, e.first_at, e.last_at, e.examples,
       count(*) OVER () AS total
FROM evaltool.run_error_summary e
WHERE e.run_id = %(run_id)s
ORDER BY e.responses DESC, e.error
LIMIT %(limit)s

-- report_leaderboard --
-- Models ranked per dataset and metric by their latest completed run (higher is better:
-- pass rate, else mean value), from model_performance and run_metric_stats (current as
-- of each run's last committed change of scores), with the latest run's cost and median
-- latency: computed for those latest runs alone, so the board costs the same however
-- long the history behind it.
WITH board AS (
    SELECT mp.dataset, mp.dataset_version, mp.metric, mp.model, mp.runs,
           mp.latest_run_id, mp.latest_run_at, mp.mean_pass_rate, mp.mean_value,
           st.n, st.pass_rate, st.pass_rate_low, st.pass_rate_high, st.mean, st.mean_low,
           st.mean_high
    FROM evaltool.model_performance mp
    JOIN evaltool.run_metric_stats st
      ON st.run_id = mp.latest_run_id AND st.metric = mp.metric
    WHERE (%(dataset)s::text IS NULL OR mp.dataset = %(dataset)s)
      AND (%(metrics)s::text[] IS NULL OR mp.metric = ANY(%(metrics)s))
), spend AS MATERIALIZED (
    -- once per latest run (not once per metric): its cost from cost_ledger, archived runs'
    -- included, and its median latency from its responses (an archived run's, as stored
    -- when it was archived)
    SELECT l.run_id,
           (SELECT sum(c.cost_usd) FROM evaltool.cost_ledger c WHERE c.run_id = l.run_id)
               AS cost_usd,
           coalesce(a.latency_p50_ms, p.latency_p50_ms) AS latency_p50_ms
    FROM (SELECT DISTINCT latest_run_id AS run_id FROM board) l
    LEFT JOIN evaltool.run_archived a ON a.run_id = l.run_id
    CROSS JOIN LATERAL (
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x.latency_ms)
                   FILTER (WHERE x.status = 'ok') AS latency_p50_ms
        FROM evaltool.response x
        WHERE x.run_id = l.run_id AND a.run_id IS NULL
    ) p
)
SELECT b.*, sp.cost_usd, sp.latency_p50_ms,
       rank() OVER (PARTITION BY b.dataset, b.dataset_version, b.metric
                    ORDER BY coalesce(b.pass_rate, b.mean) DESC NULLS LAST) AS rank
FROM board b
JOIN spend sp ON sp.run_id = b.latest_run_id
ORDER BY b.dataset, b.dataset_version, b.metric, rank, b.model

-- report_cost --
-- Calls, tokens and cost from cost_daily between %(since)s and %(until)s (days), in one
-- pass: the total, and per day, model, project and user ("by" says which). With
-- %(at_prices)s (a day), also what the same tokens cost at the prices in force at the end
-- of that day (cost_at_prices; calls of models without a price then: unpriced_at_prices).
SELECT CASE WHEN grouping(c.day) = 0 THEN 'day'
            WHEN grouping(c.model) = 0 THEN 'model'
            WHEN grouping(c.project) = 0 THEN 'project'
            WHEN grouping(c.created_by) = 0 THEN 'user'
            ELSE 'total' END AS by,
       coalesce(to_char(c.day, 'YYYY-MM-DD'), c.model, c.project, c.created_by) AS key,
       sum(c.calls) AS calls, sum(c.errors) AS errors,
       sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS output_tokens,
       sum(c.cost_usd) AS cost_usd, sum(c.unpriced_calls) AS unpriced_calls,
       sum(a.cost_usd) AS cost_at_prices,
       sum(c.calls) FILTER (WHERE %(at_prices)s::date IS NOT NULL AND a.cost_usd IS NULL)
           AS unpriced_at_prices
FROM evaltool.cost_daily c
LEFT JOIN LATERAL (
    SELECT round((coalesce(c.input_tokens, 0) * p.input_usd_per_mtok
                  + coalesce(c.output_tokens, 0) * p.output_usd_per_mtok) / 1000000, 8)
               AS cost_usd
    FROM evaltool.model m
    JOIN evaltool.model_pricing p ON p.model_id = m.id
    WHERE m.name = c.model
      AND p.valid_from < %(at_prices)s::date + 1
      AND (p.valid_to IS NULL OR p.valid_to >= %(at_prices)s::date + 1)
) a ON true
WHERE c.day >= %(since)s::date AND c.day < %(until)s::date + 1
GROUP BY GROUPING SETS ((), (c.day), (c.model), (c.project), (c.created_by))
ORDER BY by, CASE WHEN grouping(c.day) = 0 THEN NULL ELSE sum(c.cost_usd) END DESC NULLS LAST,
         key

-- report_flaky_cases --
-- The %(limit)s flakiest test cases of a run (evaltool.flaky_case, ordered as runs_flaky),
-- with how many there are in all, and the answers of each one's samples: up to 4 distinct
-- outputs with their verdict on the metric and how many samples gave them, most first.
SELECT f.prompt_id, f.external_id, f.metric, f.samples, f.n_passed, f.n_failed,
       f.pass_share, f.total, a.answers
FROM (SELECT c.*, count(*) OVER () AS total
      FROM evaltool.flaky_case c
      WHERE c.run_id = %(run_id)s
      ORDER BY abs(c.pass_share - 0.5), c.samples DESC, c.external_id, c.prompt_id, c.metric
      LIMIT %(limit)s) f
CROSS JOIN LATERAL (
    SELECT coalesce(jsonb_agg(jsonb_build_object('output', o.output_text, 'passed', o.passed,
                                                 'samples', o.samples)
                              ORDER BY o.samples DESC, o.passed DESC, o.output_text), '[]')
               AS answers
    FROM (SELECT x.output_text, s.passed, count(*) AS samples
          FROM evaltool.response x
          JOIN evaltool.score s ON s.run_id = x.run_id AND s.response_id = x.id AND s.metric = f.metric
          WHERE x.run_id = f.run_id AND x.prompt_id = f.prompt_id AND s.passed IS NOT NULL
          GROUP BY x.output_text, s.passed
          ORDER BY count(*) DESC, s.passed DESC, x.output_text
          LIMIT 4) o
) a
ORDER BY abs(f.pass_share - 0.5), f.samples DESC, f.external_id, f.prompt_id, f.metric
