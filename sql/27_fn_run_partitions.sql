-- requires: 0013_partition_by_run
-- requires: 0015_run_id_statistics
-- requires: 0018_partition_foreign_keys
-- The partitions of response, score and score_history (migration 0013): each holds a range
-- of run ids, listed in run_partition. When a run is created past the last range, the next
-- range is added for all three tables, sized to hold about a month of runs at the pace of
-- the last 30 days (at least 100 runs), so partitions stay few and an archive can drop
-- whole ones.
-- One range: the partitions of the three tables, as their parents would not make them:
-- run_id's statistics target (0015), and the foreign keys of scores and replaced scores to
-- the responses of the same range (0018).
CREATE OR REPLACE FUNCTION evaltool.create_run_partitions(run_from bigint, run_to bigint)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    t text;
BEGIN
    -- the referenced table first
    FOREACH t IN ARRAY ARRAY['response', 'score', 'score_history'] LOOP
        EXECUTE format('CREATE TABLE evaltool.%I PARTITION OF evaltool.%I '
                       'FOR VALUES FROM (%s) TO (%s)', t || '_' || run_from, t, run_from, run_to);
        EXECUTE format('COMMENT ON TABLE evaltool.%I IS %L', t || '_' || run_from,
                       format('Partition of %s: runs %s to %s.', t, run_from, run_to - 1));
        IF t <> 'score_history' THEN
            -- a run not yet analyzed is estimated at the average run, not at one row
            EXECUTE format('ALTER TABLE evaltool.%I ALTER COLUMN run_id SET STATISTICS 1',
                           t || '_' || run_from);
        END IF;
        IF t <> 'response' THEN
            EXECUTE format('ALTER TABLE evaltool.%I ADD CONSTRAINT %I '
                           'FOREIGN KEY (run_id, response_id) '
                           'REFERENCES evaltool.%I (run_id, id) ON DELETE CASCADE',
                           t || '_' || run_from, t || '_' || run_from || '_response_fkey',
                           'response_' || run_from);
        END IF;
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION evaltool.create_run_partitions(bigint, bigint) FROM PUBLIC;

COMMENT ON FUNCTION evaltool.create_run_partitions(bigint, bigint) IS
    'Creates the partitions of response, score and score_history for runs run_from to run_to - 1, with run_id''s statistics target of 1 and the foreign keys of score and score_history to response between partitions of the range. Used by ensure_run_partitions, and by evaltool load archive to bring back a dropped range.';

CREATE OR REPLACE FUNCTION evaltool.ensure_run_partitions(upto bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    last_to bigint;
    width bigint;
    made integer := 0;
BEGIN
    -- (NULL: a statement that inserted no run)
    IF upto IS NULL OR upto < coalesce((SELECT max(run_to) FROM evaltool.run_partition), 0) THEN
        RETURN 0;
    END IF;
    -- one session at a time adds ranges; the others wait here, then find them made
    PERFORM pg_advisory_xact_lock(hashtext('evaltool.run_partition'));
    LOOP
        last_to := coalesce((SELECT max(run_to) FROM evaltool.run_partition), 1);
        EXIT WHEN upto < last_to;
        width := greatest(100, (SELECT count(*) FROM evaltool.run
                                WHERE created_at > now() - interval '30 days'));
        -- one range from the last one to past upto: run ids that rolled-back transactions
        -- drew (failed loads, imports) leave gaps, and a range per width of a gap would
        -- make every new run after them create many empty partitions
        width := upto - last_to + width;
        PERFORM evaltool.create_run_partitions(last_to, last_to + width);
        INSERT INTO evaltool.run_partition (run_from, run_to) VALUES (last_to, last_to + width);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;
REVOKE EXECUTE ON FUNCTION evaltool.ensure_run_partitions(bigint) FROM PUBLIC;

COMMENT ON FUNCTION evaltool.ensure_run_partitions(bigint) IS
    'Adds the partitions of response, score and score_history for run ids up to upto: one range, from the last range to about a month of runs (at least 100) past upto, so a gap of unused ids makes one range, not many; lists it in run_partition; returns the ranges added. Called when runs are created.';

CREATE OR REPLACE FUNCTION evaltool.run_partitions_for_new_runs() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    PERFORM evaltool.ensure_run_partitions(max(n.id)) FROM new_rows n;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.run_partitions_for_new_runs() IS
    'Trigger function: makes sure the partitions for the statement''s new runs exist before their responses are written.';

DROP TRIGGER IF EXISTS run_partitions ON evaltool.run;
CREATE TRIGGER run_partitions
    AFTER INSERT ON evaltool.run
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.run_partitions_for_new_runs();
COMMENT ON TRIGGER run_partitions ON evaltool.run IS
    'Adds the partitions of response, score and score_history that the new runs need.';
