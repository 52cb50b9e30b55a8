-- evaltool.table_row_counts: exact row counts of the evaltool tables, for db health.
CREATE OR REPLACE FUNCTION evaltool.table_row_counts()
    RETURNS TABLE (table_name text, row_count bigint)
    LANGUAGE plpgsql STABLE AS
$$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'evaltool' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND c.relname !~ '^_?yoyo'
        ORDER BY c.relname
    LOOP
        table_name := t;
        EXECUTE format('SELECT count(*) FROM evaltool.%I', t) INTO row_count;
        RETURN NEXT;
    END LOOP;
END
$$;

COMMENT ON FUNCTION evaltool.table_row_counts() IS
    'Exact row count of every evaltool table (migration bookkeeping excluded), in name order.';
