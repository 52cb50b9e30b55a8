-- evaltool.iso_timestamptz: a time given in a loaded line, read the same on every server.
-- Loads take ISO 8601 only (not 'now', 'epoch' or 'infinity', which PostgreSQL also reads),
-- a time without an offset as UTC rather than the session's time zone, and answer NULL
-- for text that is not such a time, so that the row views can name the line.
CREATE OR REPLACE FUNCTION evaltool.iso_timestamptz(value text) RETURNS timestamptz
    LANGUAGE plpgsql STABLE STRICT AS
$$
BEGIN
    IF value !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$' THEN
        RETURN NULL;
    END IF;
    IF value ~ '[T ][0-9:.]+(Z|[+-]\d{2}(:?\d{2})?)$' THEN
        RETURN value::timestamptz;
    END IF;
    RETURN value::timestamp AT TIME ZONE 'UTC';
EXCEPTION
    WHEN datetime_field_overflow OR invalid_datetime_format OR invalid_time_zone_displacement_value THEN
        RETURN NULL;
END
$$;

COMMENT ON FUNCTION evaltool.iso_timestamptz(text) IS
    'A loaded line''s ISO 8601 time (2024-05-01T12:00:00Z; without an offset: UTC), or NULL when the text is not one.';
