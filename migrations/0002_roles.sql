-- 0002_roles: group roles for read-only and read-write access.
-- Roles belong to the whole server, so they are created only when absent, and a database
-- user without CREATEROLE gets a notice instead of a failed migration. The grants
-- themselves are in sql/90_grants.sql, re-applied after every migration, so that objects
-- added later are covered too.
-- depends: 0001_core

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'evaltool_reader') THEN
        CREATE ROLE evaltool_reader NOLOGIN;
        COMMENT ON ROLE evaltool_reader IS 'evaltool: may read every table and view of schema evaltool.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'evaltool_writer') THEN
        CREATE ROLE evaltool_writer NOLOGIN IN ROLE evaltool_reader;
        COMMENT ON ROLE evaltool_writer IS 'evaltool: may load, run and score (insert, update, delete) in schema evaltool.';
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'evaltool: roles evaltool_reader and evaltool_writer not created (needs CREATEROLE); grants will be skipped';
END
$$;
