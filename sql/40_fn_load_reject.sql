-- evaltool.load_reject: how set-based loads stop at a bad line and still say which.
-- An INSERT ... SELECT over a staging table calls it for a row that cannot be loaded;
-- the error carries the staging row number, which evaltool maps back to FILE:LINE.
CREATE OR REPLACE FUNCTION evaltool.load_reject(row_number bigint, reason text) RETURNS boolean
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'EVL01',
        MESSAGE = reason,
        DETAIL = format('staging row %s', row_number);
END
$$;

COMMENT ON FUNCTION evaltool.load_reject(bigint, text) IS
    'Raises SQLSTATE EVL01 with the reason as message and "staging row N" as detail; used by evaltool load to stop at the first invalid line.';
