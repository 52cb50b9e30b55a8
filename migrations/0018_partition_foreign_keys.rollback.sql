-- Undo 0018_partition_foreign_keys: one foreign key between the partitioned tables again.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT run_from FROM evaltool.run_partition WHERE dropped_at IS NULL LOOP
        EXECUTE format('ALTER TABLE evaltool.%I DROP CONSTRAINT %I',
                       'score_' || g.run_from, 'score_' || g.run_from || '_response_fkey');
        EXECUTE format('ALTER TABLE evaltool.%I DROP CONSTRAINT %I',
                       'score_history_' || g.run_from,
                       'score_history_' || g.run_from || '_response_fkey');
    END LOOP;
END
$$;

ALTER TABLE evaltool.score ADD CONSTRAINT score_response_fkey FOREIGN KEY (run_id, response_id)
    REFERENCES evaltool.response (run_id, id) ON DELETE CASCADE;
ALTER TABLE evaltool.score_history ADD CONSTRAINT score_history_response_fkey
    FOREIGN KEY (run_id, response_id) REFERENCES evaltool.response (run_id, id) ON DELETE CASCADE;
