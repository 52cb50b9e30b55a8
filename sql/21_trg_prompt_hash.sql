-- prompt: compute prompt_hash from input on every write, so the hash can never disagree
-- with the input, and default is_verified from origin (human input is trusted).
CREATE OR REPLACE FUNCTION evaltool.prompt_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.prompt_hash := evaltool.json_hash(NEW.input);
    IF TG_OP = 'INSERT' THEN
        NEW.is_verified := coalesce(NEW.is_verified, NEW.origin = 'human');
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION evaltool.prompt_before_write() IS
    'Trigger function: sets prompt_hash = json_hash(input) on insert and update, and is_verified = (origin = human) when not given.';

CREATE OR REPLACE TRIGGER prompt_before_write
    BEFORE INSERT OR UPDATE ON evaltool.prompt
    FOR EACH ROW EXECUTE FUNCTION evaltool.prompt_before_write();

COMMENT ON TRIGGER prompt_before_write ON evaltool.prompt IS
    'Hashes the input (deduplication per dataset) and defaults is_verified.';
