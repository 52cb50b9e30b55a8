-- server_info --
-- Version and identity of the connected server and database.
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_database() AS database,
       current_user AS db_user;

-- applied_migrations --
-- Migrations recorded by yoyo, oldest first; NULL table when never migrated.
SELECT migration_id, applied_at_utc
FROM evaltool._yoyo_migration
ORDER BY applied_at_utc, migration_id;

-- migrations_table_exists --
-- Whether yoyo's bookkeeping exists, i.e. the database was ever migrated.
SELECT to_regclass('evaltool._yoyo_migration') IS NOT NULL AS migrated;

-- table_row_counts --
-- Exact rows per evaltool table.
SELECT table_name, row_count FROM evaltool.table_row_counts();

-- derived_objects --
-- DROP statements for everything sql/ defines (functions with their triggers, views,
-- materialized views), so that a rollback can change tables those objects depend on.
SELECT format('DROP %s IF EXISTS %s CASCADE',
              CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                             ELSE 'FUNCTION' END,
              p.oid::regprocedure)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'evaltool'
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT format('DROP %s IF EXISTS %s CASCADE',
              CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
              c.oid::regclass)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'evaltool' AND c.relkind IN ('v', 'm');

-- migrate_lock --
-- Serialises concurrent `evaltool db migrate` and `rollback` runs (session advisory lock).
SELECT pg_advisory_lock(hashtext('evaltool.migrate'));

-- migrate_unlock --
-- Releases migrate_lock.
SELECT pg_advisory_unlock(hashtext('evaltool.migrate'));
