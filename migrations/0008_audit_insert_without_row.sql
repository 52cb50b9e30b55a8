-- 0008_audit_insert_without_row: INSERT audit rows no longer carry a copy of the row.
-- Until a row changes, the row itself holds the values it was inserted with, and its first
-- UPDATE or DELETE audit row keeps them as old_row. The copy only wrote every test case
-- loaded a second time: a million-row COPY into prompt's exact copy wrote 1,078 MB of
-- audit_log and took 64 to 70 s with it, 155 MB and 47 to 55 s without (4 alternating
-- runs each). The view audit_trail shows each INSERT with the values inserted.
-- Audit rows written before keep their copies.
-- depends: 0007_score_without_metric_index

ALTER TABLE evaltool.audit_log
    DROP CONSTRAINT audit_log_rows_match_action,
    ADD CONSTRAINT audit_log_rows_match_action CHECK (
        (action = 'INSERT' AND old_row IS NULL)
        OR (action = 'UPDATE' AND old_row IS NOT NULL AND new_row IS NOT NULL)
        OR (action = 'DELETE' AND old_row IS NOT NULL AND new_row IS NULL)
    );

COMMENT ON COLUMN evaltool.audit_log.new_row IS
    'The row after an UPDATE; NULL for DELETE, and for INSERT (the row holds its inserted values until its first change, whose audit row keeps them as old_row: see the view audit_trail).';
