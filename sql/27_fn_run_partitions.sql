-- requires: 0013_partition_by_run
-- requires: 0015_run_id_statistics
-- The partitions of response, score and score_history (migration 0013): each holds a range
-- of run ids, listed in run_partition. When a run is created past the last range, the next
-- range is added for all three tables, sized to hold about a month of runs at the pace of
-- the last 30 days (at least 100 runs), so partitions stay few and an archive can drop
-- whole ones.
CREATE OR REPLACE FUNCTION evaltool.ensure_run_partitions(upto bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    last_to bigint;
    width bigint;
    t text;
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
        FOREACH t IN ARRAY ARRAY['response', 'score', 'score_history'] LOOP
            EXECUTE format('CREATE TABLE evaltool.%I PARTITION OF evaltool.%I '
                           'FOR VALUES FROM (%s) TO (%s)',
                           t || '_' || last_to, t, last_to, last_to + width);
            EXECUTE format('COMMENT ON TABLE evaltool.%I IS %L', t || '_' || last_to,
                           format('Partition of %s: runs %s to %s.', t, last_to,
                                  last_to + width - 1));
            -- as its parent (migration 0015): a run not yet analyzed is estimated at the
            -- average run, not at one row
            IF t <> 'score_history' THEN
                EXECUTE format('ALTER TABLE evaltool.%I ALTER COLUMN run_id SET STATISTICS 1',
                               t || '_' || last_to);
            END IF;
        END LOOP;
        INSERT INTO evaltool.run_partition (run_from, run_to) VALUES (last_to, last_to + width);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;
REVOKE EXECUTE ON FUNCTION evaltool.ensure_run_partitions(bigint) FROM PUBLIC;

COMMENT ON FUNCTION evaltool.ensure_run_partitions(bigint) IS
    'Adds the partitions of response, score and score_history for run ids up to upto, a range at a time (about a month of runs, at least 100), and lists them in run_partition; returns the ranges added. Called when runs are created.';

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
