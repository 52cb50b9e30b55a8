-- 0010_score_history: rescoring keeps the earlier scores, and comparisons are recorded.
-- A scoring is one pass of a scorer over a run for one metric: what scored (scorer, its
-- version, and for a judge the judge model's snapshot and the rubric's hash), when, by
-- whom. Every score written by evaltool names its scoring. The score table keeps the current score of each
-- response and metric, the one views read; a trigger (sql/25_trg_score_history.sql) copies
-- every score that is replaced or deleted into score_history, so no path of writing can
-- lose one. A comparison is a recorded verdict of evaltool compare (a CI gate), so that a
-- later judge can be asked whether it would have changed.
-- depends: 0009_repeats

CREATE TABLE evaltool.scoring (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    metric         text NOT NULL CHECK (metric <> ''),
    scorer         text NOT NULL CHECK (scorer <> ''),
    scorer_version text NOT NULL CHECK (scorer_version <> ''),
    arg            text,
    judge_model    text,
    judge_snapshot jsonb CHECK (jsonb_typeof(judge_snapshot) = 'object'),
    rubric_sha256  bytea CHECK (octet_length(rubric_sha256) = 32),
    scores         bigint CHECK (scores >= 0),
    created_by     text NOT NULL DEFAULT current_user,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scoring_run_id_metric_idx ON evaltool.scoring (run_id, metric);

-- Scores written before: one scoring per run, metric, scorer and version.
INSERT INTO evaltool.scoring (run_id, metric, scorer, scorer_version, scores, created_by,
                              created_at)
SELECT r.run_id, s.metric, s.scorer, s.scorer_version, count(*), current_user, min(s.created_at)
FROM evaltool.score s
JOIN evaltool.response r ON r.id = s.response_id
GROUP BY r.run_id, s.metric, s.scorer, s.scorer_version;

ALTER TABLE evaltool.score ADD COLUMN scoring_id bigint;
UPDATE evaltool.score s
SET scoring_id = g.id
FROM evaltool.response r, evaltool.scoring g
WHERE r.id = s.response_id AND g.run_id = r.run_id AND g.metric = s.metric
  AND g.scorer = s.scorer AND g.scorer_version = s.scorer_version;
-- NULL only for a score written directly in SQL, outside any scoring. Not a foreign key:
-- checking one cost a third of every score write (score_run of 500,000 responses: 6.0 s
-- with it, 4.2 to 4.5 s without, measured twice each). A scoring is deleted only with its
-- run (a trigger refuses other deletes, sql/25_trg_score_history.sql), and the run's
-- responses and their scores go with it, so no score is left naming a missing scoring.
-- No index either: a scoring's current scores are found through its run's responses.

CREATE TABLE evaltool.score_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    score_id       bigint NOT NULL,
    response_id    bigint NOT NULL REFERENCES evaltool.response (id) ON DELETE CASCADE,
    scoring_id     bigint,  -- as score.scoring_id: no foreign key, and for the same reason
    metric         text NOT NULL,
    value          double precision,
    passed         boolean,
    details        jsonb NOT NULL,
    scorer         text NOT NULL,
    scorer_version text NOT NULL,
    created_at     timestamptz NOT NULL,
    superseded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX score_history_scoring_id_idx ON evaltool.score_history (scoring_id);
CREATE INDEX score_history_response_id_idx ON evaltool.score_history (response_id);

CREATE TABLE evaltool.comparison (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    baseline_run_id  bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    candidate_run_id bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    policy           jsonb NOT NULL CHECK (jsonb_typeof(policy) = 'object'),
    scorings         bigint[] NOT NULL DEFAULT '{}',
    results          jsonb NOT NULL CHECK (jsonb_typeof(results) = 'array'),
    gate_passed      boolean,
    created_by       text NOT NULL DEFAULT current_user,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comparison_baseline_run_id_idx ON evaltool.comparison (baseline_run_id);
CREATE INDEX comparison_candidate_run_id_idx ON evaltool.comparison (candidate_run_id);

COMMENT ON TABLE evaltool.scoring IS 'One pass of a scorer over a run for one metric: what scored, with which version, judge model snapshot and rubric, when and by whom. Every score evaltool writes (current or in score_history) names its scoring.';
COMMENT ON COLUMN evaltool.scoring.id IS 'Surrogate key; a VERSION of evaltool judges drift may name it.';
COMMENT ON COLUMN evaltool.scoring.run_id IS 'Run whose responses were scored.';
COMMENT ON COLUMN evaltool.scoring.metric IS 'Metric the scores are stored under.';
COMMENT ON COLUMN evaltool.scoring.scorer IS 'Scorer: sql:NAME for built-in scorers, the Python scorer''s name, or the scorer named by loaded scores.';
COMMENT ON COLUMN evaltool.scoring.scorer_version IS 'Version of the scorer.';
COMMENT ON COLUMN evaltool.scoring.arg IS 'The scorer''s argument, as given.';
COMMENT ON COLUMN evaltool.scoring.judge_model IS 'For a judge: the registered name of the judge model.';
COMMENT ON COLUMN evaltool.scoring.judge_snapshot IS 'For a judge: the judge model as it was called (model row, price and parameters).';
COMMENT ON COLUMN evaltool.scoring.rubric_sha256 IS 'For a judge: SHA-256 of the rubric template it was given.';
COMMENT ON COLUMN evaltool.scoring.scores IS 'Scores written by this pass; NULL while it is being written.';
COMMENT ON COLUMN evaltool.scoring.created_by IS 'Who scored: the evaltool.actor setting, or the database user.';
COMMENT ON COLUMN evaltool.scoring.created_at IS 'When the pass began.';

COMMENT ON COLUMN evaltool.score.scoring_id IS 'The scoring pass that wrote the score: scorer, version, judge snapshot and rubric hash. NULL for a score inserted directly in SQL.';
COMMENT ON TABLE evaltool.score IS 'The current score of one response on one metric: exactly one per (response, metric). Scores it replaced are kept in score_history.';

COMMENT ON TABLE evaltool.score_history IS 'Scores replaced by a rescoring (or deleted), copied by trigger: with the current scores in score, every score ever written, so two versions of a scorer or judge can be compared on the same responses.';
COMMENT ON COLUMN evaltool.score_history.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.score_history.score_id IS 'id the score had in table score.';
COMMENT ON COLUMN evaltool.score_history.response_id IS 'Response that was scored.';
COMMENT ON COLUMN evaltool.score_history.scoring_id IS 'Scoring pass that wrote the score; NULL for one inserted directly in SQL.';
COMMENT ON COLUMN evaltool.score_history.metric IS 'Metric name.';
COMMENT ON COLUMN evaltool.score_history.value IS 'Numeric value; NULL for pure pass/fail metrics.';
COMMENT ON COLUMN evaltool.score_history.passed IS 'Pass/fail outcome where the metric has one.';
COMMENT ON COLUMN evaltool.score_history.details IS 'Scorer details (judge reasoning, ...).';
COMMENT ON COLUMN evaltool.score_history.scorer IS 'Scorer that produced the value.';
COMMENT ON COLUMN evaltool.score_history.scorer_version IS 'Version of the scorer.';
COMMENT ON COLUMN evaltool.score_history.created_at IS 'When the score was written.';
COMMENT ON COLUMN evaltool.score_history.superseded_at IS 'When it was replaced or deleted.';

COMMENT ON TABLE evaltool.comparison IS 'A recorded comparison of two runs (evaltool compare --fail-on-regression or --record): the policy it was judged under, the scorings it read, its rows as compare_runs returned them, and whether the gate passed.';
COMMENT ON COLUMN evaltool.comparison.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.comparison.baseline_run_id IS 'Baseline run.';
COMMENT ON COLUMN evaltool.comparison.candidate_run_id IS 'Candidate run.';
COMMENT ON COLUMN evaltool.comparison.policy IS 'Arguments of compare_runs after the runs: alpha, missing, correction, margins, slice_by, cluster_by, metrics.';
COMMENT ON COLUMN evaltool.comparison.scorings IS 'The scorings whose scores were current when it was made, of both runs.';
COMMENT ON COLUMN evaltool.comparison.results IS 'The rows of compare_runs, as a JSON array of objects.';
COMMENT ON COLUMN evaltool.comparison.gate_passed IS 'Whether every row passed the gate; NULL where no row had paired data.';
COMMENT ON COLUMN evaltool.comparison.created_by IS 'Who compared: the evaltool.actor setting, or the database user.';
COMMENT ON COLUMN evaltool.comparison.created_at IS 'When it was recorded.';
