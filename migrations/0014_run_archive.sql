-- 0014_run_archive: runs whose responses and scores `evaltool runs archive` moved to a file.
-- An archived run keeps its row, its statistics (run_metric_stats) and, here, the summary
-- run_summary computed from its responses before they went, so lists, leaderboards and
-- trends still show it; `evaltool load archive FILE` brings the rows back and removes the
-- row here. A range of run_partition whose runs are all archived has its partitions
-- dropped: dropped_at says so, and a restore creates them again.
-- depends: 0013_partition_by_run

CREATE TABLE evaltool.run_archived (
    run_id         bigint PRIMARY KEY REFERENCES evaltool.run (id) ON DELETE CASCADE,
    test_cases     bigint NOT NULL,
    ok             bigint NOT NULL,
    errors         bigint NOT NULL,
    cached         bigint NOT NULL,
    input_tokens   bigint,
    output_tokens  bigint,
    cost_usd       numeric,
    latency_p50_ms double precision,
    latency_p95_ms double precision,
    responses      bigint NOT NULL,
    scores         bigint NOT NULL,
    file           text NOT NULL CHECK (file <> ''),
    archived_at    timestamptz NOT NULL DEFAULT now(),
    archived_by    text NOT NULL DEFAULT current_user
);

ALTER TABLE evaltool.run_partition ADD COLUMN dropped_at timestamptz;

COMMENT ON TABLE evaltool.run_archived IS 'A run whose responses, scores, score history and preferences evaltool runs archive wrote to a file and removed: its summary as run_summary computed it then, which run_summary shows in its place. evaltool load archive FILE restores the rows and removes this row.';
COMMENT ON COLUMN evaltool.run_archived.run_id IS 'The archived run.';
COMMENT ON COLUMN evaltool.run_archived.test_cases IS 'Test cases of the run (run_summary.test_cases when archived).';
COMMENT ON COLUMN evaltool.run_archived.ok IS 'Responses with status ok.';
COMMENT ON COLUMN evaltool.run_archived.errors IS 'Responses with status error.';
COMMENT ON COLUMN evaltool.run_archived.cached IS 'Responses reused from the response cache.';
COMMENT ON COLUMN evaltool.run_archived.input_tokens IS 'Input tokens over all responses.';
COMMENT ON COLUMN evaltool.run_archived.output_tokens IS 'Output tokens over all responses.';
COMMENT ON COLUMN evaltool.run_archived.cost_usd IS 'Cost in USD over all responses.';
COMMENT ON COLUMN evaltool.run_archived.latency_p50_ms IS 'Median latency of ok responses, in milliseconds.';
COMMENT ON COLUMN evaltool.run_archived.latency_p95_ms IS '95th percentile latency of ok responses, in milliseconds.';
COMMENT ON COLUMN evaltool.run_archived.responses IS 'Responses written to the file.';
COMMENT ON COLUMN evaltool.run_archived.scores IS 'Current scores written to the file (score history besides).';
COMMENT ON COLUMN evaltool.run_archived.file IS 'The archive file, as given to evaltool runs archive --to.';
COMMENT ON COLUMN evaltool.run_archived.archived_at IS 'When the run was archived.';
COMMENT ON COLUMN evaltool.run_archived.archived_by IS 'Database role that archived it.';
COMMENT ON COLUMN evaltool.run_partition.dropped_at IS 'When the range''s partitions were dropped, all its runs archived (NULL: they exist).';
