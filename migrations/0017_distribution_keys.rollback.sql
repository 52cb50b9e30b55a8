-- Undo 0017_distribution_keys: the keys by id alone again.
DROP INDEX evaltool.preference_pair_judge_key;
CREATE UNIQUE INDEX preference_pair_judge_key ON evaltool.preference
    (least(response_a_id, response_b_id), greatest(response_a_id, response_b_id), judge);
CREATE INDEX preference_prompt_id_idx ON evaltool.preference (prompt_id);
DROP INDEX evaltool.preference_id_idx;
ALTER TABLE evaltool.preference DROP CONSTRAINT preference_pkey;
ALTER TABLE evaltool.preference ADD CONSTRAINT preference_pkey PRIMARY KEY (id);

CREATE INDEX comparison_candidate_run_id_idx ON evaltool.comparison (candidate_run_id);
DROP INDEX evaltool.comparison_id_idx;
ALTER TABLE evaltool.comparison DROP CONSTRAINT comparison_pkey;
ALTER TABLE evaltool.comparison ADD CONSTRAINT comparison_pkey PRIMARY KEY (id);

DROP INDEX evaltool.scoring_id_idx;
ALTER TABLE evaltool.scoring DROP CONSTRAINT scoring_pkey;
ALTER TABLE evaltool.scoring ADD CONSTRAINT scoring_pkey PRIMARY KEY (id);
