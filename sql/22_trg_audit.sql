-- audit_log: statement-level triggers with transition tables write one audit row per
-- changed row in a single INSERT ... SELECT, so bulk loads stay set-based.
-- SECURITY DEFINER: writers need no privilege on audit_log, so they cannot forge or edit it.
-- From migration 0008 on, sql/25 points the audit_insert triggers at audit_inserts(),
-- which does not copy the inserted row.
CREATE OR REPLACE FUNCTION evaltool.audit_changes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    who text := coalesce(nullif(current_setting('evaltool.actor', true), ''), session_user);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO evaltool.audit_log (actor, db_user, table_name, action, row_id, new_row)
        SELECT who, session_user, TG_TABLE_NAME, TG_OP, n.id, to_jsonb(n)
        FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO evaltool.audit_log (actor, db_user, table_name, action, row_id, old_row, new_row)
        SELECT who, session_user, TG_TABLE_NAME, TG_OP, n.id, to_jsonb(o), to_jsonb(n)
        FROM new_rows n
        JOIN old_rows o ON o.id = n.id
        WHERE to_jsonb(o) IS DISTINCT FROM to_jsonb(n);
    ELSE
        INSERT INTO evaltool.audit_log (actor, db_user, table_name, action, row_id, old_row)
        SELECT who, session_user, TG_TABLE_NAME, TG_OP, o.id, to_jsonb(o)
        FROM old_rows o;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.audit_changes() IS
    'Trigger function: writes one audit_log row per inserted, updated (when changed) or deleted row, from the statement''s transition tables.';

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['model', 'model_pricing', 'dataset', 'prompt', 'run'] LOOP
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON evaltool.%I '
            'REFERENCING NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.audit_changes()', t);
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_update AFTER UPDATE ON evaltool.%I '
            'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.audit_changes()', t);
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_delete AFTER DELETE ON evaltool.%I '
            'REFERENCING OLD TABLE AS old_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.audit_changes()', t);
        EXECUTE format('COMMENT ON TRIGGER audit_insert ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each inserted row.');
        EXECUTE format('COMMENT ON TRIGGER audit_update ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each changed row, with old and new values.');
        EXECUTE format('COMMENT ON TRIGGER audit_delete ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each deleted row.');
    END LOOP;
END
$$;
