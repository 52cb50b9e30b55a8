-- requires: 0008_audit_insert_without_row
-- audit_log for INSERT, from migration 0008 on: who inserted which row and when, without a
-- copy of the row (the row holds its inserted values until its first change, whose audit
-- row keeps them as old_row). Re-points the audit_insert triggers of sql/22, whose
-- audit_changes() still copies inserted rows for schemas before 0008.
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
BEGIN
    FOREACH t IN ARRAY ARRAY['model', 'model_pricing', 'dataset', 'prompt', 'run'] LOOP
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER audit_insert AFTER INSERT ON evaltool.%I '
            'REFERENCING NEW TABLE AS new_rows '
            'FOR EACH STATEMENT EXECUTE FUNCTION evaltool.audit_inserts()', t);
        EXECUTE format('COMMENT ON TRIGGER audit_insert ON evaltool.%I IS %L', t,
            'Writes an audit_log row for each inserted row; audit_trail shows its values.');
    END LOOP;
END
$$;
