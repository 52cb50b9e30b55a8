-- 0001_core: the core evaluation schema.
-- Test cases (prompt) live in versioned datasets; a run executes one model over one
-- dataset and stores exactly one response per test case; scorers add one score per
-- response and metric. Functions, triggers, views and grants are not created here:
-- they live in sql/ and are re-applied after every migration.
--
-- ON DELETE, deliberately:
--   dataset -> prompt, run -> response -> score, model -> pricing/params: CASCADE
--     (the child is part of its parent and means nothing without it);
--   prompt -> response, model/dataset -> run, project/provider -> parents: RESTRICT
--     (results are never lost as a side effect: delete the runs first, or soft-delete).

CREATE SCHEMA IF NOT EXISTS evaltool;

-- Non-overlapping validity ranges per model need "=" on bigint inside a GiST index.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE TABLE evaltool.project (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    description text,
    metadata    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO evaltool.project (name, description)
VALUES ('default', 'Workspace used when no project is named.');

CREATE TABLE evaltool.provider (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> ''),
    base_url    text,
    metadata    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE evaltool.model (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_id  bigint NOT NULL REFERENCES evaltool.provider (id) ON DELETE RESTRICT,
    name         text NOT NULL UNIQUE CHECK (name <> ''),
    model_id     text NOT NULL CHECK (model_id <> ''),
    version      text,
    adapter      text NOT NULL
                 CHECK (adapter IN ('openai', 'anthropic', 'bedrock', 'python', 'command')),
    config       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    is_reference boolean NOT NULL DEFAULT false,
    is_active    boolean NOT NULL DEFAULT true,
    description  text,
    created_by   text NOT NULL DEFAULT current_user,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_provider_id_idx ON evaltool.model (provider_id);

CREATE TABLE evaltool.model_pricing (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id            bigint NOT NULL REFERENCES evaltool.model (id) ON DELETE CASCADE,
    input_usd_per_mtok  numeric(14, 6) NOT NULL CHECK (input_usd_per_mtok >= 0),
    output_usd_per_mtok numeric(14, 6) NOT NULL CHECK (output_usd_per_mtok >= 0),
    valid_from          timestamptz NOT NULL DEFAULT now(),
    valid_to            timestamptz CHECK (valid_to > valid_from),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT model_pricing_no_overlap EXCLUDE USING gist (
        model_id WITH =,
        tstzrange(valid_from, valid_to) WITH &&
    )
);
-- The exclusion constraint's GiST index leads with model_id, so it serves the foreign key.

CREATE TABLE evaltool.model_params (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id    bigint NOT NULL REFERENCES evaltool.model (id) ON DELETE CASCADE,
    params      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    valid_from  timestamptz NOT NULL DEFAULT now(),
    valid_to    timestamptz CHECK (valid_to > valid_from),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT model_params_no_overlap EXCLUDE USING gist (
        model_id WITH =,
        tstzrange(valid_from, valid_to) WITH &&
    )
);

CREATE TABLE evaltool.dataset (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES evaltool.project (id) ON DELETE RESTRICT,
    name        text NOT NULL CHECK (name <> ''),
    version     text NOT NULL DEFAULT '1' CHECK (version <> ''),
    description text,
    metadata    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    created_by  text NOT NULL DEFAULT current_user,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT dataset_project_name_version_key UNIQUE (project_id, name, version)
);

CREATE TABLE evaltool.prompt (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id  bigint NOT NULL REFERENCES evaltool.dataset (id) ON DELETE CASCADE,
    -- An identifier: bytewise order ("C") is all it needs, and much cheaper to index.
    external_id text COLLATE "C" CHECK (external_id <> ''),
    input       jsonb NOT NULL,
    expected    jsonb,
    tags        text[] NOT NULL DEFAULT '{}',
    metadata    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    origin      text NOT NULL DEFAULT 'human'
                CHECK (origin IN ('human', 'synthetic', 'imported', 'production')),
    is_verified boolean NOT NULL,
    prompt_hash bytea NOT NULL CHECK (octet_length(prompt_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    CONSTRAINT prompt_dataset_hash_key UNIQUE (dataset_id, prompt_hash)
);
CREATE UNIQUE INDEX prompt_dataset_external_id_key
    ON evaltool.prompt (dataset_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX prompt_tags_idx ON evaltool.prompt USING gin (tags);

CREATE TABLE evaltool.run (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id       bigint NOT NULL REFERENCES evaltool.model (id) ON DELETE RESTRICT,
    dataset_id     bigint NOT NULL REFERENCES evaltool.dataset (id) ON DELETE RESTRICT,
    name           text,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'completed', 'failed', 'interrupted')),
    model_snapshot jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(model_snapshot) = 'object'),
    params         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    git_revision   text,
    created_by     text NOT NULL DEFAULT current_user,
    tags           text[] NOT NULL DEFAULT '{}',
    notes          text,
    metadata       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    started_at     timestamptz,
    finished_at    timestamptz CHECK (finished_at >= started_at),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_model_id_idx ON evaltool.run (model_id);
CREATE INDEX run_dataset_id_idx ON evaltool.run (dataset_id);
CREATE INDEX run_created_at_idx ON evaltool.run (created_at);
CREATE INDEX run_status_idx ON evaltool.run (status);
CREATE INDEX run_tags_idx ON evaltool.run USING gin (tags);

CREATE TABLE evaltool.response (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES evaltool.run (id) ON DELETE CASCADE,
    prompt_id       bigint NOT NULL REFERENCES evaltool.prompt (id) ON DELETE RESTRICT,
    status          text NOT NULL CHECK (status IN ('ok', 'error')),
    output          jsonb,
    output_text     text,
    error           text,
    latency_ms      double precision CHECK (latency_ms >= 0 AND latency_ms < 'Infinity'),
    input_tokens    integer CHECK (input_tokens >= 0),
    output_tokens   integer CHECK (output_tokens >= 0),
    tokens_estimated boolean NOT NULL DEFAULT false,
    cost_usd        numeric(18, 8) CHECK (cost_usd >= 0),
    attempts        integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    metadata        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    started_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT response_run_prompt_key UNIQUE (run_id, prompt_id),
    CONSTRAINT response_error_has_message CHECK (status <> 'error' OR error IS NOT NULL)
);
CREATE INDEX response_prompt_id_idx ON evaltool.response (prompt_id);

CREATE TABLE evaltool.score (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    response_id    bigint NOT NULL REFERENCES evaltool.response (id) ON DELETE CASCADE,
    metric         text NOT NULL CHECK (metric <> ''),
    value          double precision
                   CHECK (value NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)),
    passed         boolean,
    details        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    scorer         text NOT NULL CHECK (scorer <> ''),
    scorer_version text NOT NULL DEFAULT '1',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT score_response_metric_key UNIQUE (response_id, metric),
    CONSTRAINT score_has_result CHECK (value IS NOT NULL OR passed IS NOT NULL)
);
CREATE INDEX score_metric_idx ON evaltool.score (metric);

CREATE TABLE evaltool.audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    db_user     text NOT NULL DEFAULT session_user,
    table_name  text NOT NULL,
    action      text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    row_id      bigint NOT NULL,
    old_row     jsonb,
    new_row     jsonb,
    txid        bigint NOT NULL DEFAULT txid_current(),
    CONSTRAINT audit_log_rows_match_action CHECK (
        (action = 'INSERT' AND old_row IS NULL AND new_row IS NOT NULL)
        OR (action = 'UPDATE' AND old_row IS NOT NULL AND new_row IS NOT NULL)
        OR (action = 'DELETE' AND old_row IS NOT NULL AND new_row IS NULL)
    )
);
CREATE INDEX audit_log_table_row_idx ON evaltool.audit_log (table_name, row_id);
-- Append-only in time order: a BRIN index is tiny and serves time-range queries.
CREATE INDEX audit_log_at_idx ON evaltool.audit_log USING brin (at);

-- COMMENT ON everything, so that \d+ in psql explains the schema.
COMMENT ON SCHEMA evaltool IS 'evaltool: golden test sets, model runs, responses, scores and their comparison. Managed by evaltool db migrate.';

COMMENT ON TABLE evaltool.project IS 'A workspace that groups datasets; the unit of access control. A project named default always exists.';
COMMENT ON COLUMN evaltool.project.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.project.name IS 'Unique project name, as typed on the command line.';
COMMENT ON COLUMN evaltool.project.description IS 'Free text for people.';
COMMENT ON COLUMN evaltool.project.metadata IS 'Free-form JSON object for integrations.';
COMMENT ON COLUMN evaltool.project.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.project.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.provider IS 'Who serves models: a hosted API (openai, anthropic, bedrock) or a local runtime.';
COMMENT ON COLUMN evaltool.provider.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.provider.name IS 'Unique provider name.';
COMMENT ON COLUMN evaltool.provider.base_url IS 'Default API base URL for models of this provider; never holds credentials.';
COMMENT ON COLUMN evaltool.provider.metadata IS 'Free-form JSON object; never holds secrets.';
COMMENT ON COLUMN evaltool.provider.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.provider.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.model IS 'One exact model and version as evaltool calls it, with its adapter configuration. API keys are never stored: adapters read them from the environment.';
COMMENT ON COLUMN evaltool.model.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.model.provider_id IS 'Provider that serves the model.';
COMMENT ON COLUMN evaltool.model.name IS 'Unique registry name used on the command line (evaltool run NAME ...).';
COMMENT ON COLUMN evaltool.model.model_id IS 'Identifier the provider knows the model by, e.g. gpt-4o-2024-08-06, or module:function for python models.';
COMMENT ON COLUMN evaltool.model.version IS 'Version label, when the model_id does not carry one.';
COMMENT ON COLUMN evaltool.model.adapter IS 'How evaltool calls the model: openai, anthropic, bedrock, python or command.';
COMMENT ON COLUMN evaltool.model.config IS 'Adapter configuration (base URL, extra headers, region); never secrets.';
COMMENT ON COLUMN evaltool.model.is_reference IS 'True for a reference ("master") model that others are compared with.';
COMMENT ON COLUMN evaltool.model.is_active IS 'False hides a retired model from default listings; its history stays.';
COMMENT ON COLUMN evaltool.model.description IS 'Free text for people.';
COMMENT ON COLUMN evaltool.model.created_by IS 'Who registered the model.';
COMMENT ON COLUMN evaltool.model.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.model.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.model_pricing IS 'Price of a model in USD per million tokens over a validity range; ranges of one model never overlap (exclusion constraint), so one price is in force at any time.';
COMMENT ON COLUMN evaltool.model_pricing.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.model_pricing.model_id IS 'Model this price applies to.';
COMMENT ON COLUMN evaltool.model_pricing.input_usd_per_mtok IS 'USD per million input (prompt) tokens.';
COMMENT ON COLUMN evaltool.model_pricing.output_usd_per_mtok IS 'USD per million output (completion) tokens.';
COMMENT ON COLUMN evaltool.model_pricing.valid_from IS 'Start of validity, inclusive.';
COMMENT ON COLUMN evaltool.model_pricing.valid_to IS 'End of validity, exclusive; NULL while the price is current.';
COMMENT ON COLUMN evaltool.model_pricing.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.model_pricing.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.model_params IS 'Generation parameters of a model (temperature, max_tokens, ...) over a validity range; ranges of one model never overlap.';
COMMENT ON COLUMN evaltool.model_params.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.model_params.model_id IS 'Model these parameters apply to.';
COMMENT ON COLUMN evaltool.model_params.params IS 'Parameters as a JSON object, passed to the adapter as they are.';
COMMENT ON COLUMN evaltool.model_params.valid_from IS 'Start of validity, inclusive.';
COMMENT ON COLUMN evaltool.model_params.valid_to IS 'End of validity, exclusive; NULL while the parameters are current.';
COMMENT ON COLUMN evaltool.model_params.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.model_params.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.dataset IS 'A named, versioned set of test cases in a project.';
COMMENT ON COLUMN evaltool.dataset.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.dataset.project_id IS 'Project the dataset belongs to.';
COMMENT ON COLUMN evaltool.dataset.name IS 'Dataset name, unique with version inside a project.';
COMMENT ON COLUMN evaltool.dataset.version IS 'Version label (NAME:VERSION on the command line); 1 unless named.';
COMMENT ON COLUMN evaltool.dataset.description IS 'Free text for people.';
COMMENT ON COLUMN evaltool.dataset.metadata IS 'Free-form JSON object.';
COMMENT ON COLUMN evaltool.dataset.created_by IS 'Who created the dataset.';
COMMENT ON COLUMN evaltool.dataset.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.dataset.updated_at IS 'When the row last changed; set by trigger.';
COMMENT ON COLUMN evaltool.dataset.deleted_at IS 'Soft delete: when set, the dataset is hidden but its history is kept.';

COMMENT ON TABLE evaltool.prompt IS 'One test case: any input as JSON (text, chat messages, image references, tabular rows) with optional expected output. Stored once per dataset by the SHA-256 of its canonical input.';
COMMENT ON COLUMN evaltool.prompt.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.prompt.dataset_id IS 'Dataset the test case belongs to.';
COMMENT ON COLUMN evaltool.prompt.external_id IS 'Optional id from the source file; unique inside a dataset.';
COMMENT ON COLUMN evaltool.prompt.input IS 'Model input, any JSON.';
COMMENT ON COLUMN evaltool.prompt.expected IS 'Expected output (ground truth), any JSON; NULL when unknown.';
COMMENT ON COLUMN evaltool.prompt.tags IS 'Labels for filtering and slicing results.';
COMMENT ON COLUMN evaltool.prompt.metadata IS 'Free-form JSON object.';
COMMENT ON COLUMN evaltool.prompt.origin IS 'Where the test case came from: human, synthetic, imported or production.';
COMMENT ON COLUMN evaltool.prompt.is_verified IS 'Whether a person vouched for the test case; defaults to true for human input, false otherwise (set by trigger).';
COMMENT ON COLUMN evaltool.prompt.prompt_hash IS 'SHA-256 of the canonical form of input (evaltool.json_hash); set by trigger, so key order and whitespace do not matter.';
COMMENT ON COLUMN evaltool.prompt.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.prompt.updated_at IS 'When the row last changed; set by trigger.';
COMMENT ON COLUMN evaltool.prompt.deleted_at IS 'Soft delete: when set, the test case is left out of new runs.';

COMMENT ON TABLE evaltool.run IS 'One execution of a model over a dataset: what ran, with which parameters, when and by whom.';
COMMENT ON COLUMN evaltool.run.id IS 'Surrogate key; the RUN argument of evaltool commands.';
COMMENT ON COLUMN evaltool.run.model_id IS 'Model that was run.';
COMMENT ON COLUMN evaltool.run.dataset_id IS 'Dataset it was run over.';
COMMENT ON COLUMN evaltool.run.name IS 'Optional human name.';
COMMENT ON COLUMN evaltool.run.status IS 'pending, running, completed, failed or interrupted (resumable).';
COMMENT ON COLUMN evaltool.run.model_snapshot IS 'The model row as it was when the run started.';
COMMENT ON COLUMN evaltool.run.params IS 'Generation parameters used, as a JSON object.';
COMMENT ON COLUMN evaltool.run.git_revision IS 'Git revision of the working tree that started the run, when known.';
COMMENT ON COLUMN evaltool.run.created_by IS 'Who started the run.';
COMMENT ON COLUMN evaltool.run.tags IS 'Labels for finding runs.';
COMMENT ON COLUMN evaltool.run.notes IS 'Free text for people.';
COMMENT ON COLUMN evaltool.run.metadata IS 'Free-form JSON object.';
COMMENT ON COLUMN evaltool.run.started_at IS 'When the first call was made.';
COMMENT ON COLUMN evaltool.run.finished_at IS 'When the run completed, failed or was interrupted.';
COMMENT ON COLUMN evaltool.run.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.run.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.response IS 'The result of one model call: exactly one per (run, test case), with output, tokens, latency, cost and error.';
COMMENT ON COLUMN evaltool.response.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.response.run_id IS 'Run the response belongs to.';
COMMENT ON COLUMN evaltool.response.prompt_id IS 'Test case that was answered.';
COMMENT ON COLUMN evaltool.response.status IS 'ok, or error when the call failed after its retries.';
COMMENT ON COLUMN evaltool.response.output IS 'Model output as JSON (a string for text models).';
COMMENT ON COLUMN evaltool.response.output_text IS 'Output as plain text, for text scorers and search.';
COMMENT ON COLUMN evaltool.response.error IS 'Error message when status is error.';
COMMENT ON COLUMN evaltool.response.latency_ms IS 'Wall-clock time of the successful (or last) attempt, in milliseconds.';
COMMENT ON COLUMN evaltool.response.input_tokens IS 'Input tokens, from the API usage or estimated.';
COMMENT ON COLUMN evaltool.response.output_tokens IS 'Output tokens, from the API usage or estimated.';
COMMENT ON COLUMN evaltool.response.tokens_estimated IS 'True when token counts were estimated rather than reported by the API.';
COMMENT ON COLUMN evaltool.response.cost_usd IS 'Cost in USD at the price in force at the time of the call.';
COMMENT ON COLUMN evaltool.response.attempts IS 'Number of calls made, retries included.';
COMMENT ON COLUMN evaltool.response.metadata IS 'Raw provider metadata (finish reason, request id, ...).';
COMMENT ON COLUMN evaltool.response.started_at IS 'When the first attempt started.';
COMMENT ON COLUMN evaltool.response.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.response.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.score IS 'One metric computed for one response by a scorer: exactly one per (response, metric).';
COMMENT ON COLUMN evaltool.score.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.score.response_id IS 'Response that was scored.';
COMMENT ON COLUMN evaltool.score.metric IS 'Metric name, e.g. exact_match or trigram_similarity.';
COMMENT ON COLUMN evaltool.score.value IS 'Numeric value (finite); NULL for pure pass/fail metrics.';
COMMENT ON COLUMN evaltool.score.passed IS 'Pass/fail outcome where the metric has one.';
COMMENT ON COLUMN evaltool.score.details IS 'Scorer details as a JSON object (judge reasoning, matched span, ...).';
COMMENT ON COLUMN evaltool.score.scorer IS 'Scorer that produced the value.';
COMMENT ON COLUMN evaltool.score.scorer_version IS 'Version of the scorer, so that changed scorers are visible.';
COMMENT ON COLUMN evaltool.score.created_at IS 'When the row was inserted.';
COMMENT ON COLUMN evaltool.score.updated_at IS 'When the row last changed; set by trigger.';

COMMENT ON TABLE evaltool.audit_log IS 'Who changed what and when: one row per inserted, updated or deleted row of model, model_pricing, dataset, prompt and run, written by triggers. Append-only.';
COMMENT ON COLUMN evaltool.audit_log.id IS 'Surrogate key, in order of writing.';
COMMENT ON COLUMN evaltool.audit_log.at IS 'Transaction time of the change.';
COMMENT ON COLUMN evaltool.audit_log.actor IS 'Who made the change: the evaltool.actor setting (the operating-system user of the CLI) or else the database user.';
COMMENT ON COLUMN evaltool.audit_log.db_user IS 'Database role that logged in and made the change (session_user).';
COMMENT ON COLUMN evaltool.audit_log.table_name IS 'Table of the changed row.';
COMMENT ON COLUMN evaltool.audit_log.action IS 'INSERT, UPDATE or DELETE.';
COMMENT ON COLUMN evaltool.audit_log.row_id IS 'id of the changed row.';
COMMENT ON COLUMN evaltool.audit_log.old_row IS 'The row before the change; NULL for INSERT.';
COMMENT ON COLUMN evaltool.audit_log.new_row IS 'The row after the change; NULL for DELETE.';
COMMENT ON COLUMN evaltool.audit_log.txid IS 'Transaction id, to group the rows of one change.';
