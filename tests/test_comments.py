"""Every object of schema evaltool explains itself in psql's \\d+."""

import psycopg

UNCOMMENTED = """
SELECT 'table ' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'evaltool' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND obj_description(c.oid, 'pg_class') IS NULL
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'evaltool' AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL
UNION ALL
SELECT 'function ' || p.oid::regprocedure
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'evaltool' AND obj_description(p.oid, 'pg_proc') IS NULL
UNION ALL
SELECT 'trigger ' || t.tgname || ' on ' || c.relname
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'evaltool' AND NOT t.tgisinternal AND NOT c.relispartition
  AND obj_description(t.oid, 'pg_trigger') IS NULL
UNION ALL
SELECT 'schema evaltool' WHERE obj_description('evaltool'::regnamespace, 'pg_namespace') IS NULL
ORDER BY 1
"""


def test_every_object_has_a_comment(conn: psycopg.Connection) -> None:
    assert conn.execute(UNCOMMENTED).fetchall() == []


def test_the_check_finds_a_missing_comment(conn: psycopg.Connection) -> None:
    conn.execute("ALTER TABLE evaltool.run ADD COLUMN undocumented int")
    assert conn.execute(UNCOMMENTED).fetchall() == [("column run.undocumented",)]
