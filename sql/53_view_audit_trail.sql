-- evaltool.audit_trail: audit_log with the values of every INSERT filled in. INSERT rows
-- carry no copy of the row (migration 0008): the values inserted are the old_row of the
-- row's next audit row, or else the row as it is now. When that next audit row is another
-- INSERT, the row went without an audit row (a TRUNCATE by the tables' owner: writers may
-- not) and its id came back: the values are lost, and the view says NULL rather than show
-- the later row's as inserted.
CREATE OR REPLACE VIEW evaltool.audit_trail AS
SELECT a.id, a.at, a.actor, a.db_user, a.table_name, a.action, a.row_id, a.old_row,
       CASE WHEN a.action = 'INSERT' AND a.new_row IS NULL
            THEN CASE WHEN later.found THEN later.old_row
                 ELSE CASE a.table_name
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
                 END
            END
            ELSE a.new_row
       END AS new_row,
       a.txid
FROM evaltool.audit_log a
-- The row's next audit row; looked up for lean INSERT rows only (the condition on a is
-- constant inside the subquery, so the other rows skip the index probe).
LEFT JOIN LATERAL (
    SELECT true AS found, l.old_row
    FROM evaltool.audit_log l
    WHERE a.action = 'INSERT' AND a.new_row IS NULL
      AND l.table_name = a.table_name AND l.row_id = a.row_id AND l.id > a.id
    ORDER BY l.id
    LIMIT 1
) later ON true;

COMMENT ON VIEW evaltool.audit_trail IS
    'audit_log as people read it: every INSERT shows the values inserted (from the row''s next change, or the row as it is now). Filter on table_name and row_id for one row''s history.';
COMMENT ON COLUMN evaltool.audit_trail.id IS 'audit_log id, in order of writing.';
COMMENT ON COLUMN evaltool.audit_trail.at IS 'Transaction time of the change.';
COMMENT ON COLUMN evaltool.audit_trail.actor IS 'Who the client says made the change (evaltool.actor: the CLI''s operating-system user, else the database user); not authenticated, see db_user.';
COMMENT ON COLUMN evaltool.audit_trail.db_user IS 'Database role that logged in and made the change (session_user): the authenticated author.';
COMMENT ON COLUMN evaltool.audit_trail.table_name IS 'Table of the changed row.';
COMMENT ON COLUMN evaltool.audit_trail.action IS 'INSERT, UPDATE or DELETE.';
COMMENT ON COLUMN evaltool.audit_trail.row_id IS 'id of the changed row.';
COMMENT ON COLUMN evaltool.audit_trail.old_row IS 'The row before the change; NULL for INSERT.';
COMMENT ON COLUMN evaltool.audit_trail.new_row IS 'The row after the change, or as inserted; NULL for DELETE, and for an INSERT whose row was removed without an audit row (TRUNCATE by the owner).';
COMMENT ON COLUMN evaltool.audit_trail.txid IS 'Transaction id, to group the rows of one change.';
