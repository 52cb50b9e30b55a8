-- 0004_run_task: the work queue of runs.
-- A run's test cases wait here until a response is written for them. Workers (one
-- `evaltool run` or many `evaltool run --worker` processes, on any machines) claim rows
-- with FOR UPDATE SKIP LOCKED and hold them under a lease that they renew while alive; a
-- dead worker's lease expires and another worker takes the row over. Writing a response
-- and deleting its row happen in one transaction, so a test case is answered once.
-- depends: 0003_training_example

CREATE TABLE evaltool.run_task (
    run_id           bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    prompt_id        bigint NOT NULL REFERENCES evaltool.prompt (id) ON DELETE CASCADE,
    leased_by        text,
    lease_expires_at timestamptz,
    claims           integer NOT NULL DEFAULT 0 CHECK (claims >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, prompt_id),
    CONSTRAINT run_task_lease_complete CHECK ((leased_by IS NULL) = (lease_expires_at IS NULL))
);
CREATE INDEX run_task_prompt_id_idx ON evaltool.run_task (prompt_id);

COMMENT ON TABLE evaltool.run_task IS 'Test cases of a run still waiting for a response, claimed by workers under leases; a row is deleted when its response is written.';
COMMENT ON COLUMN evaltool.run_task.run_id IS 'The run.';
COMMENT ON COLUMN evaltool.run_task.prompt_id IS 'The test case to answer.';
COMMENT ON COLUMN evaltool.run_task.leased_by IS 'Worker holding the lease (host:pid:random), NULL when free.';
COMMENT ON COLUMN evaltool.run_task.lease_expires_at IS 'When the lease ends unless renewed; past it, any worker may take the row.';
COMMENT ON COLUMN evaltool.run_task.claims IS 'How many times workers claimed the row; more than one means a worker died or was interrupted holding it.';
COMMENT ON COLUMN evaltool.run_task.created_at IS 'When the row was queued.';
