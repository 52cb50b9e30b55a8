-- 0005_scoring: what scoring and aggregation need beyond the core tables.
-- The text-similarity scorers use pg_trgm (trigram similarity) and fuzzystrmatch (edit
-- distance). Both ship with PostgreSQL's contrib and are trusted extensions, so a database
-- owner may create them; where a server lacks them, a NOTICE says so and only the scorer
-- that needs the missing one refuses to run.
-- depends: 0004_run_task

DO $$
DECLARE
    ext text;
BEGIN
    FOREACH ext IN ARRAY ARRAY['pg_trgm', 'fuzzystrmatch'] LOOP
        IF EXISTS (SELECT FROM pg_extension WHERE extname = ext) THEN
            CONTINUE;
        ELSIF EXISTS (SELECT FROM pg_available_extensions WHERE name = ext) THEN
            EXECUTE format('CREATE EXTENSION %I WITH SCHEMA public', ext);
        ELSE
            RAISE NOTICE 'extension % is not available on this server: install PostgreSQL''s contrib package to use %',
                ext, CASE ext WHEN 'pg_trgm' THEN 'the trigram_similarity scorer'
                              ELSE 'the edit_similarity scorer with fuzzystrmatch (a slower built-in fallback is used)' END;
        END IF;
    END LOOP;
END
$$;

CREATE TABLE evaltool.refresh_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    view_name     text NOT NULL CHECK (view_name <> ''),
    concurrent    boolean NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL CHECK (finished_at >= started_at),
    rows          bigint NOT NULL CHECK (rows >= 0),
    refreshed_by  text NOT NULL DEFAULT current_user
);
CREATE INDEX refresh_log_view_name_idx ON evaltool.refresh_log (view_name, started_at);

COMMENT ON TABLE evaltool.refresh_log IS 'One row per refresh of a materialized aggregate: which, when, how long, how many rows, by whom.';
COMMENT ON COLUMN evaltool.refresh_log.id IS 'Surrogate key.';
COMMENT ON COLUMN evaltool.refresh_log.view_name IS 'Materialized view refreshed, schema-qualified.';
COMMENT ON COLUMN evaltool.refresh_log.concurrent IS 'Whether REFRESH ... CONCURRENTLY was used (readers were not blocked).';
COMMENT ON COLUMN evaltool.refresh_log.started_at IS 'When the refresh began.';
COMMENT ON COLUMN evaltool.refresh_log.finished_at IS 'When the refresh ended.';
COMMENT ON COLUMN evaltool.refresh_log.rows IS 'Rows in the materialized view after the refresh.';
COMMENT ON COLUMN evaltool.refresh_log.refreshed_by IS 'Database role that ran the refresh.';
