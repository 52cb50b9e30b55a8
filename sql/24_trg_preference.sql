-- preference: both responses must answer the same test case, which the row then records,
-- with the runs of the two responses (its foreign keys to response name them, migration
-- 0013).
-- requires: 0006_preference
-- requires: 0013_partition_by_run
CREATE OR REPLACE FUNCTION evaltool.preference_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    prompt_a bigint;
    prompt_b bigint;
BEGIN
    SELECT prompt_id, run_id INTO prompt_a, NEW.run_a_id
    FROM evaltool.response WHERE id = NEW.response_a_id;
    SELECT prompt_id, run_id INTO prompt_b, NEW.run_b_id
    FROM evaltool.response WHERE id = NEW.response_b_id;
    IF prompt_a IS DISTINCT FROM prompt_b THEN
        RAISE EXCEPTION 'responses % and % answer different test cases', NEW.response_a_id,
            NEW.response_b_id USING ERRCODE = 'check_violation';
    END IF;
    -- A missing response leaves prompt_id NULL here; the foreign keys then name it.
    NEW.prompt_id := coalesce(prompt_a, NEW.prompt_id);
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION evaltool.preference_before_write() IS
    'Trigger function: sets preference.prompt_id, run_a_id and run_b_id from its responses and refuses two responses to different test cases.';

CREATE OR REPLACE TRIGGER preference_before_write
    BEFORE INSERT OR UPDATE OF prompt_id, response_a_id, response_b_id, run_a_id, run_b_id
    ON evaltool.preference
    FOR EACH ROW EXECUTE FUNCTION evaltool.preference_before_write();

COMMENT ON TRIGGER preference_before_write ON evaltool.preference IS
    'Records the test case of the two responses, and refuses a pair that answers different ones.';
