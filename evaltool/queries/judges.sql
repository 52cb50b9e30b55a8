-- judges_drift --
-- Two versions of the scorer or judge of a metric on the same responses of a run
-- (sql/74_fn_judge_drift.sql).
SELECT * FROM evaltool.judge_drift(%(run_id)s, %(metric)s, %(from_version)s, %(to_version)s)

-- judges_agreement --
-- Two judges of preferences on the pairs of responses both judged (sql/74_fn_judge_drift.sql).
SELECT * FROM evaltool.judge_agreement(%(judge)s, %(other)s)

-- judges_scorings --
-- The scorings of a run, per metric newest first, all metrics or one: what scored, with which version,
-- judge and rubric, how many of its scores are current and how many were replaced. The
-- latest scoring of a metric is current even where it wrote nothing (it replaced every
-- score); an earlier one is current while scores of it are (scores loaded beside others).
WITH counts AS (
    SELECT s.scoring_id, count(*) AS n
    FROM evaltool.response r JOIN evaltool.score s ON s.run_id = r.run_id AND s.response_id = r.id
    WHERE r.run_id = %(run_id)s AND s.scoring_id IS NOT NULL
    GROUP BY s.scoring_id
)
SELECT g.id, g.metric, g.scorer, g.scorer_version, g.arg, g.judge_model,
       left(encode(g.rubric_sha256, 'hex'), 12) AS rubric_sha256, g.scores,
       coalesce(c.n, 0) AS current_scores,
       (SELECT count(*) FROM evaltool.score_history h
        WHERE h.run_id = g.run_id AND h.scoring_id = g.id) AS replaced_scores,
       c.n IS NOT NULL OR g.id = max(g.id) OVER (PARTITION BY g.metric) AS is_current,
       g.created_at, g.created_by
FROM evaltool.scoring g
LEFT JOIN counts c ON c.scoring_id = g.id
WHERE g.run_id = %(run_id)s AND (%(metric)s::text IS NULL OR g.metric = %(metric)s)
ORDER BY g.metric, g.id DESC
