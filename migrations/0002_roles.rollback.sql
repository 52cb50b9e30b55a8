-- Undo 0002_roles: revoke what this database granted to the roles, and drop the roles
-- unless another database of the server still grants them something.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['evaltool_writer', 'evaltool_reader'] LOOP
        CONTINUE WHEN NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA evaltool FROM %I', r);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA evaltool FROM %I', r);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA evaltool FROM %I', r);
        EXECUTE format('REVOKE ALL ON SCHEMA evaltool FROM %I', r);
        IF NOT EXISTS (
            SELECT FROM pg_shdepend d
            WHERE d.refclassid = 'pg_authid'::regclass
              AND d.refobjid = (SELECT oid FROM pg_roles WHERE rolname = r)
              AND d.dbid <> (SELECT oid FROM pg_database WHERE datname = current_database())
        ) THEN
            EXECUTE format('DROP ROLE %I', r);
        END IF;
    END LOOP;
END
$$;
