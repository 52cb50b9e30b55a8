-- training_example: hash the [prompt, completion] pair on every write, for deduplication.
-- requires: 0003_training_example
CREATE OR REPLACE FUNCTION evaltool.training_example_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.example_hash := evaltool.json_hash(jsonb_build_array(NEW.prompt, NEW.completion));
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION evaltool.training_example_before_write() IS
    'Trigger function: sets example_hash = json_hash([prompt, completion]).';

CREATE OR REPLACE TRIGGER training_example_before_write
    BEFORE INSERT OR UPDATE ON evaltool.training_example
    FOR EACH ROW EXECUTE FUNCTION evaltool.training_example_before_write();

COMMENT ON TRIGGER training_example_before_write ON evaltool.training_example IS
    'Hashes the prompt/completion pair (deduplication per project).';
