-- 0003_training_example: prompt/completion pairs for training pipelines.
-- Synthetic-data generators write batches of JSONL ({"prompt": ..., "enhancement": ...})
-- that earlier systems could not persist; evaltool load training stores them here, once
-- per distinct pair (example_hash, set by trigger), with the batch file and line they
-- came from, a priority for sampling, and soft delete.
-- depends: 0002_roles

CREATE TABLE evaltool.training_example (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   bigint NOT NULL REFERENCES evaltool.project (id) ON DELETE RESTRICT,
    prompt       jsonb NOT NULL,
    completion   jsonb NOT NULL,
    data_source  text NOT NULL DEFAULT 'file' CHECK (data_source <> ''),
    priority     integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 1 AND 1000),
    batch        text,
    batch_line   integer CHECK (batch_line >= 1),
    metadata     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    example_hash bytea NOT NULL CHECK (octet_length(example_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,
    CONSTRAINT training_example_project_hash_key UNIQUE (project_id, example_hash)
);
CREATE INDEX training_example_source_idx ON evaltool.training_example (data_source, priority);

COMMENT ON TABLE evaltool.training_example IS 'A prompt/completion pair for training pipelines, stored once per project by the hash of the pair.';
COMMENT ON COLUMN evaltool.training_example.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.training_example.project_id IS 'Project the example belongs to.';
COMMENT ON COLUMN evaltool.training_example.prompt IS 'The prompt, any JSON (usually a string).';
COMMENT ON COLUMN evaltool.training_example.completion IS 'The desired completion ("enhancement" in generator batches), any JSON.';
COMMENT ON COLUMN evaltool.training_example.data_source IS 'Where the example came from: file, synthetic, production, ...';
COMMENT ON COLUMN evaltool.training_example.priority IS 'Sampling priority from 1 (lowest) to 1000; 100 unless given.';
COMMENT ON COLUMN evaltool.training_example.batch IS 'Batch file the example was loaded from.';
COMMENT ON COLUMN evaltool.training_example.batch_line IS 'Line of the batch file.';
COMMENT ON COLUMN evaltool.training_example.metadata IS 'Free-form JSON object, including unknown fields of the source line.';
COMMENT ON COLUMN evaltool.training_example.example_hash IS 'SHA-256 of the canonical [prompt, completion] pair (evaltool.json_hash); set by trigger.';
COMMENT ON COLUMN evaltool.training_example.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.training_example.updated_at IS 'When the row last changed; set by trigger.';
COMMENT ON COLUMN evaltool.training_example.deleted_at IS 'Soft delete: when set, the example is left out of exports.';
