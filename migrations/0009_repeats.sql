-- 0009_repeats: a run may ask each test case K times (samples), to tell a real regression
-- from sampling noise and to name the test cases whose answers disagree.
-- A response is unique per (run, test case, sample) instead of per (run, test case); the
-- queue holds one row per (test case, sample), so workers answer each sample once. A run
-- of K = 1 (the default, and every run before) has sample 1 only and reads as before.
-- depends: 0008_audit_insert_without_row

ALTER TABLE evaltool.run
    ADD COLUMN repeats integer NOT NULL DEFAULT 1 CHECK (repeats BETWEEN 1 AND 1000);

ALTER TABLE evaltool.response
    ADD COLUMN sample integer NOT NULL DEFAULT 1 CHECK (sample >= 1);
ALTER TABLE evaltool.response
    DROP CONSTRAINT response_run_prompt_key,
    ADD CONSTRAINT response_run_prompt_sample_key UNIQUE (run_id, prompt_id, sample);

ALTER TABLE evaltool.run_task
    ADD COLUMN sample integer NOT NULL DEFAULT 1 CHECK (sample >= 1);
ALTER TABLE evaltool.run_task
    DROP CONSTRAINT run_task_pkey,
    ADD PRIMARY KEY (run_id, prompt_id, sample);

COMMENT ON COLUMN evaltool.run.repeats IS 'Samples asked per test case (evaltool run --repeats K); 1 unless repeated.';
COMMENT ON COLUMN evaltool.response.sample IS 'Which of the run''s samples of the test case this is, 1 to run.repeats.';
COMMENT ON COLUMN evaltool.run_task.sample IS 'Which sample of the test case to answer.';
COMMENT ON TABLE evaltool.response IS 'The result of one model call: one per (run, test case, sample), with output, tokens, latency, cost and error.';
