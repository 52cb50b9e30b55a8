-- Undo 0010_score_history: earlier scores and recorded comparisons are dropped.
DROP TABLE evaltool.comparison;
DROP TABLE evaltool.score_history;
ALTER TABLE evaltool.score DROP COLUMN scoring_id;
DROP TABLE evaltool.scoring;
COMMENT ON TABLE evaltool.score IS 'One metric computed for one response by a scorer: exactly one per (response, metric).';
