-- Undo 0009_repeats: the second and later samples of repeated runs are deleted (one
-- response per test case is all the older schema can hold).
DELETE FROM evaltool.response WHERE sample > 1;
DELETE FROM evaltool.run_task WHERE sample > 1;
ALTER TABLE evaltool.run_task
    DROP CONSTRAINT run_task_pkey,
    ADD PRIMARY KEY (run_id, prompt_id);
ALTER TABLE evaltool.run_task DROP COLUMN sample;
ALTER TABLE evaltool.response
    DROP CONSTRAINT response_run_prompt_sample_key,
    ADD CONSTRAINT response_run_prompt_key UNIQUE (run_id, prompt_id);
ALTER TABLE evaltool.response DROP COLUMN sample;
ALTER TABLE evaltool.run DROP COLUMN repeats;
COMMENT ON TABLE evaltool.response IS 'The result of one model call: exactly one per (run, test case), with output, tokens, latency, cost and error.';
