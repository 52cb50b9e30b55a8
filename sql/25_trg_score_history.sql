-- requires: 0010_score_history
-- requires: 0013_partition_by_run
-- score_history: every score that is replaced or deleted is copied there, whichever way it
-- is written (a rescoring, a load, psql), in one INSERT ... SELECT per statement.
CREATE OR REPLACE FUNCTION evaltool.keep_score_history() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO evaltool.score_history (run_id, score_id, response_id, scoring_id, metric,
                                            value, passed, details, scorer, scorer_version,
                                            created_at)
        SELECT o.run_id, o.id, o.response_id, o.scoring_id, o.metric, o.value, o.passed,
               o.details, o.scorer, o.scorer_version, o.created_at
        FROM old_rows o
        JOIN new_rows n ON n.run_id = o.run_id AND n.id = o.id
        -- byte for byte, as the audit compares: details {"x": 1} and {"x": 1.0} differ
        WHERE o *<> n;
    ELSE
        -- Scores deleted with their response (a run deleted) have nothing left to belong to.
        INSERT INTO evaltool.score_history (run_id, score_id, response_id, scoring_id, metric,
                                            value, passed, details, scorer, scorer_version,
                                            created_at)
        SELECT o.run_id, o.id, o.response_id, o.scoring_id, o.metric, o.value, o.passed,
               o.details, o.scorer, o.scorer_version, o.created_at
        FROM old_rows o
        WHERE EXISTS (SELECT FROM evaltool.response r
                      WHERE r.run_id = o.run_id AND r.id = o.response_id);
    END IF;
    RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.keep_score_history() IS
    'Trigger function: copies replaced (UPDATE) and deleted (DELETE) scores into score_history, set-based from the statement''s transition table.';

-- The UPDATE copy pairs old and new rows by id, so a score's id never changes (keep_id,
-- sql/22_trg_audit.sql), as in the audited tables.
CREATE OR REPLACE TRIGGER keep_id BEFORE UPDATE ON evaltool.score
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION evaltool.keep_id();
COMMENT ON TRIGGER keep_id ON evaltool.score IS
    'Refuses a change of id, which would hide the replaced score from score_history.';

-- Transition tables allow one event per trigger: one trigger each.
DROP TRIGGER IF EXISTS score_history_update ON evaltool.score;
CREATE TRIGGER score_history_update
    AFTER UPDATE ON evaltool.score
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.keep_score_history();
COMMENT ON TRIGGER score_history_update ON evaltool.score IS
    'Keeps the scores an UPDATE replaces in score_history.';

DROP TRIGGER IF EXISTS score_history_delete ON evaltool.score;
CREATE TRIGGER score_history_delete
    AFTER DELETE ON evaltool.score
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION evaltool.keep_score_history();
COMMENT ON TRIGGER score_history_delete ON evaltool.score IS
    'Keeps the scores a DELETE removes in score_history (not those deleted with their response).';

-- score.scoring_id and score_history.scoring_id are not foreign keys (a check per score
-- cost a third of every scoring): instead a scoring goes only with its run, whose
-- responses take their scores along.
CREATE OR REPLACE FUNCTION evaltool.scoring_before_delete() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF EXISTS (SELECT FROM evaltool.run r WHERE r.id = OLD.run_id) THEN
        RAISE EXCEPTION 'scoring % belongs to run %: it is deleted with its run', OLD.id,
            OLD.run_id USING ERRCODE = '23503',
            HINT = 'scores name their scoring; delete the run (evaltool runs delete), or keep it';
    END IF;
    RETURN OLD;
END
$$;

COMMENT ON FUNCTION evaltool.scoring_before_delete() IS
    'Trigger function: refuses to delete a scoring while its run exists, so no score names a missing scoring.';

DROP TRIGGER IF EXISTS scoring_before_delete ON evaltool.scoring;
CREATE TRIGGER scoring_before_delete
    BEFORE DELETE ON evaltool.scoring
    FOR EACH ROW EXECUTE FUNCTION evaltool.scoring_before_delete();
COMMENT ON TRIGGER scoring_before_delete ON evaltool.scoring IS
    'A scoring goes only with its run.';

-- evaltool.begin_scoring: the start of every pass of a scorer over a run.
CREATE OR REPLACE FUNCTION evaltool.begin_scoring(run_id bigint, metric text, scorer text,
                                                  scorer_version text, arg text DEFAULT NULL,
                                                  judge_model text DEFAULT NULL,
                                                  judge_snapshot jsonb DEFAULT NULL,
                                                  rubric_sha256 bytea DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql AS
$$
#variable_conflict use_column
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO evaltool.scoring (run_id, metric, scorer, scorer_version, arg, judge_model,
                                  judge_snapshot, rubric_sha256, created_by)
    VALUES (begin_scoring.run_id, begin_scoring.metric, begin_scoring.scorer,
            begin_scoring.scorer_version, begin_scoring.arg, begin_scoring.judge_model,
            begin_scoring.judge_snapshot, begin_scoring.rubric_sha256,
            coalesce(nullif(current_setting('evaltool.actor', true), ''), current_user))
    RETURNING id INTO new_id;
    -- A rescoring replaces every score of the metric, also those the new pass will not
    -- write (a case it cannot judge): the trigger keeps them in score_history.
    DELETE FROM evaltool.score s
    WHERE s.run_id = begin_scoring.run_id AND s.metric = begin_scoring.metric;
    RETURN new_id;
END
$$;

COMMENT ON FUNCTION evaltool.begin_scoring(bigint, text, text, text, text, text, jsonb, bytea) IS
    'Starts a pass of a scorer over a run for one metric: records the scoring (scorer, version, argument, judge model snapshot, rubric hash) and moves the run''s current scores of the metric to score_history. Returns the scoring id that the new scores name. evaltool.finish_scoring records how many were written.';

CREATE OR REPLACE FUNCTION evaltool.finish_scoring(scoring_id bigint, scores bigint)
    RETURNS bigint
    LANGUAGE sql AS
$$
UPDATE evaltool.scoring SET scores = finish_scoring.scores WHERE id = finish_scoring.scoring_id
RETURNING scores
$$;

COMMENT ON FUNCTION evaltool.finish_scoring(bigint, bigint) IS
    'Records the number of scores a scoring wrote; returns it.';
