-- Undo 0007_score_without_metric_index.
CREATE INDEX score_metric_idx ON evaltool.score (metric);
