-- Undo 0005_scoring. pg_trgm and fuzzystrmatch stay: other schemas may use them.
DROP TABLE evaltool.refresh_log;
