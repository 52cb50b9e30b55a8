-- 0018_partition_foreign_keys: a score's (and a replaced score's) foreign key to its
-- response, declared between each pair of partitions of one range of runs instead of
-- between the partitioned tables. A foreign key to a partitioned table is checked, for
-- each row written, by a query on that table whose cached plan locks every partition, so
-- each check costs more as partitions accumulate: with 11 ranges, scoring a run of 10,000
-- responses spent 0.52 s of 0.56 in these checks, against about 0.05 s with one range.
-- The partitions of a range hold the same runs, so the foreign key between them allows
-- exactly the same rows. evaltool.create_run_partitions adds it to each new range.
-- depends: 0017_distribution_keys

ALTER TABLE evaltool.score DROP CONSTRAINT score_response_fkey;
ALTER TABLE evaltool.score_history DROP CONSTRAINT score_history_response_fkey;

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT run_from FROM evaltool.run_partition WHERE dropped_at IS NULL
             ORDER BY run_from LOOP
        EXECUTE format('ALTER TABLE evaltool.%I ADD CONSTRAINT %I FOREIGN KEY (run_id, response_id) '
                       'REFERENCES evaltool.%I (run_id, id) ON DELETE CASCADE',
                       'score_' || g.run_from, 'score_' || g.run_from || '_response_fkey',
                       'response_' || g.run_from);
        EXECUTE format('ALTER TABLE evaltool.%I ADD CONSTRAINT %I FOREIGN KEY (run_id, response_id) '
                       'REFERENCES evaltool.%I (run_id, id) ON DELETE CASCADE',
                       'score_history_' || g.run_from,
                       'score_history_' || g.run_from || '_response_fkey',
                       'response_' || g.run_from);
    END LOOP;
END
$$;
