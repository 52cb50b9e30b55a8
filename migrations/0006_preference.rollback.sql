-- Undo 0006_preference.
DROP TABLE evaltool.preference;
