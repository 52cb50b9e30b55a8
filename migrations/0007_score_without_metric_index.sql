-- 0007_score_without_metric_index: drop the index on score (metric) alone.
-- No query looks scores up by metric without their responses: every one joins through
-- response_id, which the unique (response_id, metric) index serves, and a metric alone
-- matches a large share of the table, where a scan beats an index. The index cost a
-- eighth of every score write (1.6 of 12.1 s for a million rows, measured).
-- depends: 0006_preference

DROP INDEX evaltool.score_metric_idx;
