-- 0017_distribution_keys: the last unique keys that Citus could not keep, with the
-- distribution column of their table (docs/scaling.md, "The keys this needs"): a scoring is
-- keyed within its run, a comparison within its candidate run, a judgment within the test
-- case that both its responses answer. Each id keeps an index of its own for lookups by
-- id (an identity column stays unique without a constraint). The pair of a judgment
-- determines its test case, so the unique key with prompt_id holds the same pairs.
-- depends: 0016_cost_ledger

ALTER TABLE evaltool.scoring DROP CONSTRAINT scoring_pkey;
ALTER TABLE evaltool.scoring ADD CONSTRAINT scoring_pkey PRIMARY KEY (run_id, id);
CREATE INDEX scoring_id_idx ON evaltool.scoring (id);

ALTER TABLE evaltool.comparison DROP CONSTRAINT comparison_pkey;
ALTER TABLE evaltool.comparison ADD CONSTRAINT comparison_pkey PRIMARY KEY (candidate_run_id, id);
CREATE INDEX comparison_id_idx ON evaltool.comparison (id);
DROP INDEX evaltool.comparison_candidate_run_id_idx;

ALTER TABLE evaltool.preference DROP CONSTRAINT preference_pkey;
ALTER TABLE evaltool.preference ADD CONSTRAINT preference_pkey PRIMARY KEY (prompt_id, id);
CREATE INDEX preference_id_idx ON evaltool.preference (id);
DROP INDEX evaltool.preference_prompt_id_idx;
DROP INDEX evaltool.preference_pair_judge_key;
CREATE UNIQUE INDEX preference_pair_judge_key ON evaltool.preference
    (prompt_id, least(response_a_id, response_b_id), greatest(response_a_id, response_b_id), judge);
