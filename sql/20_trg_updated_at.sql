-- updated_at: every table with an updated_at column gets a trigger that moves it when the
-- row really changes. Tables added by later migrations are covered on the next migrate.
CREATE OR REPLACE FUNCTION evaltool.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION evaltool.touch_updated_at() IS
    'Trigger function: sets updated_at to the transaction time when an updated row differs from the old one.';

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid
        WHERE n.nspname = 'evaltool' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND a.attname = 'updated_at' AND NOT a.attisdropped
        ORDER BY c.relname
    LOOP
        EXECUTE format(
            'CREATE OR REPLACE TRIGGER touch_updated_at BEFORE UPDATE ON %s '
            'FOR EACH ROW EXECUTE FUNCTION evaltool.touch_updated_at()', t);
        EXECUTE format(
            'COMMENT ON TRIGGER touch_updated_at ON %s IS %L', t,
            'Moves updated_at when the row changes.');
    END LOOP;
END
$$;
