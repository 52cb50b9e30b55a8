-- 0006_preference: pairwise judgments, RLHF-style.
-- A judge (a person, or a model through `evaltool preferences judge`) saw one test case and
-- two responses to it, A and B, and said which is better or that they tie. Win rates per
-- model pair and Bradley-Terry ratings per model are computed from these rows (sql/).
-- One judgment per pair of responses and judge, whichever was shown first, so that loading
-- a file twice or resuming a judging command adds nothing.
-- depends: 0005_scoring

CREATE TABLE evaltool.preference (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prompt_id      bigint NOT NULL REFERENCES evaltool.prompt (id) ON DELETE CASCADE,
    response_a_id  bigint NOT NULL REFERENCES evaltool.response (id) ON DELETE CASCADE,
    response_b_id  bigint NOT NULL REFERENCES evaltool.response (id) ON DELETE CASCADE,
    winner         text NOT NULL CHECK (winner IN ('a', 'b', 'tie')),
    judge_kind     text NOT NULL CHECK (judge_kind IN ('human', 'model')),
    judge          text NOT NULL CHECK (judge <> ''),
    reason         text,
    details        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    created_by     text NOT NULL DEFAULT current_user,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT preference_two_responses CHECK (response_a_id <> response_b_id)
);
CREATE UNIQUE INDEX preference_pair_judge_key ON evaltool.preference
    (least(response_a_id, response_b_id), greatest(response_a_id, response_b_id), judge);
CREATE INDEX preference_response_a_id_idx ON evaltool.preference (response_a_id);
CREATE INDEX preference_response_b_id_idx ON evaltool.preference (response_b_id);
CREATE INDEX preference_prompt_id_idx ON evaltool.preference (prompt_id);

COMMENT ON TABLE evaltool.preference IS 'A pairwise judgment: which of two responses to one test case is better, or a tie, by a person or a judge model. One per pair of responses and judge.';
COMMENT ON COLUMN evaltool.preference.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.preference.prompt_id IS 'The test case both responses answer; set from the responses by trigger.';
COMMENT ON COLUMN evaltool.preference.response_a_id IS 'Response shown as A.';
COMMENT ON COLUMN evaltool.preference.response_b_id IS 'Response shown as B.';
COMMENT ON COLUMN evaltool.preference.winner IS 'a, b, or tie.';
COMMENT ON COLUMN evaltool.preference.judge_kind IS 'human or model.';
COMMENT ON COLUMN evaltool.preference.judge IS 'Who judged: an annotator''s name, or the judge model''s registered name.';
COMMENT ON COLUMN evaltool.preference.reason IS 'The judge''s reason, when given.';
COMMENT ON COLUMN evaltool.preference.details IS 'Free-form JSON object: a judge model''s replies per order, rubric, unknown fields of a loaded line.';
COMMENT ON COLUMN evaltool.preference.created_by IS 'Database role that recorded the judgment.';
COMMENT ON COLUMN evaltool.preference.created_at IS 'When the judgment was recorded.';
COMMENT ON COLUMN evaltool.preference.updated_at IS 'When the row last changed; set by trigger.';
