-- requires: 0006_preference
-- evaltool.preference_outcome: each pairwise judgment with the runs and models behind its
-- two responses, the base of win rates and ratings.
CREATE OR REPLACE VIEW evaltool.preference_outcome AS
SELECT p.id AS preference_id, p.prompt_id, pr.dataset_id,
       ra.run_id AS run_a_id, rb.run_id AS run_b_id,
       runa.model_id AS model_a_id, ma.name AS model_a,
       runb.model_id AS model_b_id, mb.name AS model_b,
       p.winner,
       CASE p.winner WHEN 'a' THEN runa.model_id WHEN 'b' THEN runb.model_id END AS winner_model_id,
       p.judge_kind, p.judge, p.reason, p.created_at
FROM evaltool.preference p
JOIN evaltool.prompt pr ON pr.id = p.prompt_id
JOIN evaltool.response ra ON ra.id = p.response_a_id
JOIN evaltool.response rb ON rb.id = p.response_b_id
JOIN evaltool.run runa ON runa.id = ra.run_id
JOIN evaltool.run runb ON runb.id = rb.run_id
JOIN evaltool.model ma ON ma.id = runa.model_id
JOIN evaltool.model mb ON mb.id = runb.model_id;

COMMENT ON VIEW evaltool.preference_outcome IS
    'Each pairwise judgment with the dataset, runs and models of its two responses and the winning model.';
COMMENT ON COLUMN evaltool.preference_outcome.preference_id IS 'The judgment (evaltool.preference).';
COMMENT ON COLUMN evaltool.preference_outcome.prompt_id IS 'The test case both responses answer.';
COMMENT ON COLUMN evaltool.preference_outcome.dataset_id IS 'Dataset of the test case.';
COMMENT ON COLUMN evaltool.preference_outcome.run_a_id IS 'Run of response A.';
COMMENT ON COLUMN evaltool.preference_outcome.run_b_id IS 'Run of response B.';
COMMENT ON COLUMN evaltool.preference_outcome.model_a_id IS 'Model of response A.';
COMMENT ON COLUMN evaltool.preference_outcome.model_a IS 'Name of the model of response A.';
COMMENT ON COLUMN evaltool.preference_outcome.model_b_id IS 'Model of response B.';
COMMENT ON COLUMN evaltool.preference_outcome.model_b IS 'Name of the model of response B.';
COMMENT ON COLUMN evaltool.preference_outcome.winner IS 'a, b, or tie.';
COMMENT ON COLUMN evaltool.preference_outcome.winner_model_id IS 'Model of the preferred response; NULL for a tie.';
COMMENT ON COLUMN evaltool.preference_outcome.judge_kind IS 'human or model.';
COMMENT ON COLUMN evaltool.preference_outcome.judge IS 'Annotator or judge model.';
COMMENT ON COLUMN evaltool.preference_outcome.reason IS 'The judge''s reason, when given.';
COMMENT ON COLUMN evaltool.preference_outcome.created_at IS 'When the judgment was recorded.';
