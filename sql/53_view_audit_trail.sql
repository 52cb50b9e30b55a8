-- evaltool.audit_trail: audit_log with the values of every INSERT filled in. INSERT rows
-- carry no copy of the row (migration 0008): the values inserted are the old_row of the
-- row's first later change, or else the row as it is now.
CREATE OR REPLACE VIEW evaltool.audit_trail AS
SELECT a.id, a.at, a.actor, a.db_user, a.table_name, a.action, a.row_id, a.old_row,
       CASE WHEN a.action = 'INSERT' AND a.new_row IS NULL
            THEN coalesce(
                (SELECT l.old_row FROM evaltool.audit_log l
                 WHERE l.table_name = a.table_name AND l.row_id = a.row_id AND l.id > a.id
                 ORDER BY l.id LIMIT 1),
                CASE a.table_name
                    WHEN 'model'
                        THEN (SELECT to_jsonb(t) FROM evaltool.model t WHERE t.id = a.row_id)
                    WHEN 'model_pricing'
                        THEN (SELECT to_jsonb(t) FROM evaltool.model_pricing t
                              WHERE t.id = a.row_id)
                    WHEN 'dataset'
                        THEN (SELECT to_jsonb(t) FROM evaltool.dataset t WHERE t.id = a.row_id)
                    WHEN 'prompt'
                        THEN (SELECT to_jsonb(t) FROM evaltool.prompt t WHERE t.id = a.row_id)
                    WHEN 'run'
                        THEN (SELECT to_jsonb(t) FROM evaltool.run t WHERE t.id = a.row_id)
                END)
            ELSE a.new_row
       END AS new_row,
       a.txid
FROM evaltool.audit_log a;

COMMENT ON VIEW evaltool.audit_trail IS
    'audit_log as people read it: every INSERT shows the values inserted (from the row''s first later change, or the row as it is now). Filter on table_name and row_id for one row''s history.';
COMMENT ON COLUMN evaltool.audit_trail.id IS 'audit_log id, in order of writing.';
COMMENT ON COLUMN evaltool.audit_trail.at IS 'Transaction time of the change.';
COMMENT ON COLUMN evaltool.audit_trail.actor IS 'Who made the change (evaltool.actor, else the database user).';
COMMENT ON COLUMN evaltool.audit_trail.db_user IS 'Database role that made the change.';
COMMENT ON COLUMN evaltool.audit_trail.table_name IS 'Table of the changed row.';
COMMENT ON COLUMN evaltool.audit_trail.action IS 'INSERT, UPDATE or DELETE.';
COMMENT ON COLUMN evaltool.audit_trail.row_id IS 'id of the changed row.';
COMMENT ON COLUMN evaltool.audit_trail.old_row IS 'The row before the change; NULL for INSERT.';
COMMENT ON COLUMN evaltool.audit_trail.new_row IS 'The row after the change, or as inserted; NULL for DELETE, and for an INSERT whose row was removed by TRUNCATE.';
COMMENT ON COLUMN evaltool.audit_trail.txid IS 'Transaction id, to group the rows of one change.';
