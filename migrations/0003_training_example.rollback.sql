-- Undo 0003_training_example.
DROP TABLE evaltool.training_example;
