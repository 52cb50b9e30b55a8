-- requires: 0011_templates_cache
-- prompt_template: the hash follows the body, and a version never changes once added, so
-- a run that names a template version can always be reproduced. A changed body is a new
-- version (evaltool templates add).
CREATE OR REPLACE FUNCTION evaltool.prompt_template_before_write() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.body IS DISTINCT FROM OLD.body OR NEW.name IS DISTINCT FROM OLD.name
                             OR NEW.version IS DISTINCT FROM OLD.version) THEN
        RAISE EXCEPTION 'template % version % cannot change: add a new version', OLD.name, OLD.version
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.template_hash := evaltool.json_hash(NEW.body);
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION evaltool.prompt_template_before_write() IS
    'Trigger function: sets template_hash = json_hash(body), and refuses a change of a version''s name, number or body.';

CREATE OR REPLACE TRIGGER prompt_template_before_write
    BEFORE INSERT OR UPDATE ON evaltool.prompt_template
    FOR EACH ROW EXECUTE FUNCTION evaltool.prompt_template_before_write();

COMMENT ON TRIGGER prompt_template_before_write ON evaltool.prompt_template IS
    'Hashes the body, and keeps each template version immutable.';
