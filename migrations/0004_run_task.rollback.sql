-- Undo 0004_run_task.
DROP TABLE evaltool.run_task;
