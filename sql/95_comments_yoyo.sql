-- yoyo keeps its migration bookkeeping in schema evaltool; describe it like everything else.
COMMENT ON TABLE evaltool._yoyo_migration IS 'yoyo-migrations: the migrations applied to this database (evaltool db status).';
COMMENT ON COLUMN evaltool._yoyo_migration.migration_hash IS 'yoyo: hash of the migration id.';
COMMENT ON COLUMN evaltool._yoyo_migration.migration_id IS 'Migration file name without .sql, e.g. 0001_core.';
COMMENT ON COLUMN evaltool._yoyo_migration.applied_at_utc IS 'When the migration was applied, UTC.';

COMMENT ON TABLE evaltool._yoyo_log IS 'yoyo-migrations: every apply and rollback ever made, with who and where.';
COMMENT ON COLUMN evaltool._yoyo_log.id IS 'yoyo: log entry id (UUID).';
COMMENT ON COLUMN evaltool._yoyo_log.migration_hash IS 'yoyo: hash of the migration id.';
COMMENT ON COLUMN evaltool._yoyo_log.migration_id IS 'Migration file name without .sql.';
COMMENT ON COLUMN evaltool._yoyo_log.operation IS 'apply, rollback or mark.';
COMMENT ON COLUMN evaltool._yoyo_log.username IS 'Operating-system user who ran it.';
COMMENT ON COLUMN evaltool._yoyo_log.hostname IS 'Machine it ran on.';
COMMENT ON COLUMN evaltool._yoyo_log.comment IS 'yoyo: optional comment.';
COMMENT ON COLUMN evaltool._yoyo_log.created_at_utc IS 'When, UTC.';

COMMENT ON TABLE evaltool._yoyo_version IS 'yoyo-migrations: version of yoyo''s own bookkeeping tables.';
COMMENT ON COLUMN evaltool._yoyo_version.version IS 'yoyo: bookkeeping schema version.';
COMMENT ON COLUMN evaltool._yoyo_version.installed_at_utc IS 'When that version was installed, UTC.';

COMMENT ON TABLE evaltool.yoyo_lock IS 'yoyo-migrations: held while migrations are applied, so that two runs never interleave.';
COMMENT ON COLUMN evaltool.yoyo_lock.locked IS 'yoyo: always 1; the primary key makes the lock exclusive.';
COMMENT ON COLUMN evaltool.yoyo_lock.ctime IS 'When the lock was taken.';
COMMENT ON COLUMN evaltool.yoyo_lock.pid IS 'Process id of the holder.';
