-- Undo 0008_audit_insert_without_row: give INSERT audit rows their copy of the row back,
-- from the row's first later change, else the row as it is now, else (a row removed by
-- TRUNCATE) its id alone, and require it again.
UPDATE evaltool.audit_log a
SET new_row = coalesce(
        (SELECT l.old_row FROM evaltool.audit_log l
         WHERE l.table_name = a.table_name AND l.row_id = a.row_id AND l.id > a.id
         ORDER BY l.id LIMIT 1),
        CASE a.table_name
            WHEN 'model' THEN (SELECT to_jsonb(t) FROM evaltool.model t WHERE t.id = a.row_id)
            WHEN 'model_pricing'
                THEN (SELECT to_jsonb(t) FROM evaltool.model_pricing t WHERE t.id = a.row_id)
            WHEN 'dataset' THEN (SELECT to_jsonb(t) FROM evaltool.dataset t WHERE t.id = a.row_id)
            WHEN 'prompt' THEN (SELECT to_jsonb(t) FROM evaltool.prompt t WHERE t.id = a.row_id)
            WHEN 'run' THEN (SELECT to_jsonb(t) FROM evaltool.run t WHERE t.id = a.row_id)
        END,
        jsonb_build_object('id', a.row_id))
WHERE a.action = 'INSERT' AND a.new_row IS NULL;

ALTER TABLE evaltool.audit_log
    DROP CONSTRAINT audit_log_rows_match_action,
    ADD CONSTRAINT audit_log_rows_match_action CHECK (
        (action = 'INSERT' AND old_row IS NULL AND new_row IS NOT NULL)
        OR (action = 'UPDATE' AND old_row IS NOT NULL AND new_row IS NOT NULL)
        OR (action = 'DELETE' AND old_row IS NOT NULL AND new_row IS NULL)
    );

COMMENT ON COLUMN evaltool.audit_log.new_row IS 'The row after the change; NULL for DELETE.';
