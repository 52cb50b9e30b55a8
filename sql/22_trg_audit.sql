-- audit_log: statement-level triggers with transition tables write one audit row per
-- changed row in a single INSERT ... SELECT, so bulk loads stay set-based.
-- SECURITY DEFINER: writers need no privilege on audit_log, so they cannot forge or edit it.
-- From migration 0008 on, INSERTs are audited by audit_inserts(), without a copy of the
-- row: it holds its inserted values until its first change, whose audit row keeps them as
-- old_row (the view audit_trail shows them). Before 0008, audit_changes() copies it.
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

CREATE OR REPLACE FUNCTION evaltool.audit_inserts() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    INSERT INTO evaltool.audit_log (actor, db_user, table_name, action, row_id)
    SELECT coalesce(nullif(current_setting('evaltool.actor', true), ''), session_user),
           session_user, TG_TABLE_NAME, TG_OP, n.id
    FROM new_rows n;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.audit_inserts() IS
    'Trigger function: writes one audit_log row (who, when, which row) per inserted row, from the statement''s transition table.';

DO $$
DECLARE
    t text;
    on_insert text := CASE
        WHEN EXISTS (SELECT FROM evaltool._yoyo_migration
                     WHERE migration_id = '0008_audit_insert_without_row')
        THEN 'audit_inserts' ELSE 'audit_changes' END;
BEGIN
    FOREACH t IN ARRAY ARRAY['model', 'model_pricing', 'dataset', 'prompt', 'run'] LOOP
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON evaltool.%I '
            'REFERENCING NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.%I()', t, on_insert);
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_update AFTER UPDATE ON evaltool.%I '
            'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.audit_changes()', t);
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_delete AFTER DELETE ON evaltool.%I '
            'REFERENCING OLD TABLE AS old_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.audit_changes()', t);
        EXECUTE format('COMMENT ON TRIGGER audit_insert ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each inserted row; audit_trail shows its values.');
        EXECUTE format('COMMENT ON TRIGGER audit_update ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each changed row, with old and new values.');
        EXECUTE format('COMMENT ON TRIGGER audit_delete ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each deleted row.');
    END LOOP;
END
$$;
