-- audit_log: statement-level triggers with transition tables write one audit row per
-- changed row in a single INSERT ... SELECT, so bulk loads stay set-based.
-- SECURITY DEFINER: writers need no privilege on audit_log, so they cannot forge or edit it.
-- From migration 0008 on, INSERTs are audited by audit_inserts(), without a copy of the
-- row: it holds its inserted values until its first change, whose audit row keeps them as
-- old_row (the view audit_trail shows them). Before 0008, audit_changes() copies it.
-- An UPDATE's audit pairs each old row with its new one by id, so ids never change
-- (keep_id below): a changed id would hide the change from the log.
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
        -- Byte for byte, not equal by value: jsonb and numeric call 1 and 1.0 equal, yet an
        -- expected answer changed from 1 to 1.0 scores differently. (o and n are whole rows:
        -- an audited table must have no column named o or n.)
        WHERE o *<> n;
    ELSE
        INSERT INTO evaltool.audit_log (actor, db_user, table_name, action, row_id, old_row)
        SELECT who, session_user, TG_TABLE_NAME, TG_OP, o.id, to_jsonb(o)
        FROM old_rows o;
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.audit_changes() IS
    'Trigger function: writes one audit_log row per inserted, updated (when any byte of it changed) or deleted row, from the statement''s transition tables; old and new rows are paired by id, which keep_id keeps from changing.';

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

-- Row-level, but fired only when the id changes (the WHEN clause is checked in place of a
-- call), so ordinary updates pay nothing. BEFORE, so that it speaks before the foreign keys.
CREATE OR REPLACE FUNCTION evaltool.keep_id() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    -- named by its table: a partition's trigger (score_1) speaks for the partitioned table
    RAISE EXCEPTION 'id of % cannot change: the audit log follows each row by its id',
        coalesce((SELECT i.inhparent::regclass::text FROM pg_inherits i
                  WHERE i.inhrelid = TG_RELID),
                 format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME))
        USING ERRCODE = 'generated_always',
              DETAIL = format('Row %s would become row %s.', OLD.id, NEW.id),
              HINT = 'Change the other columns, or delete the row and insert a new one.';
END
$$;

COMMENT ON FUNCTION evaltool.keep_id() IS
    'Trigger function: refuses an UPDATE that changes the id of an audited row (SQLSTATE 428C9), since audit_log pairs old and new rows by id.';

-- Who: actor is what the client says, db_user what PostgreSQL authenticated.
COMMENT ON COLUMN evaltool.audit_log.actor IS
    'Who the client says made the change: the evaltool.actor setting, which the evaltool CLI sets to its operating-system user, else the database user. Not authenticated: any session may set evaltool.actor to any name; db_user is the authenticated role.';
COMMENT ON COLUMN evaltool.audit_log.db_user IS
    'Database role that logged in and made the change (session_user, whatever SET ROLE or evaltool.actor say): the authenticated author.';

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
            'CREATE OR REPLACE TRIGGER keep_id BEFORE UPDATE ON evaltool.%I '
            'FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) '
            'EXECUTE FUNCTION evaltool.keep_id()', t);
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_delete AFTER DELETE ON evaltool.%I '
            'REFERENCING OLD TABLE AS old_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.audit_changes()', t);
        EXECUTE format('COMMENT ON TRIGGER audit_insert ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each inserted row; audit_trail shows its values.');
        EXECUTE format('COMMENT ON TRIGGER audit_update ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each changed row, with old and new values.');
        EXECUTE format('COMMENT ON TRIGGER keep_id ON evaltool.%I IS %L', t,
            'Refuses a change of id, which would hide the change from the audit log.');
        EXECUTE format('COMMENT ON TRIGGER audit_delete ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each deleted row.');
    END LOOP;
END
$$;
