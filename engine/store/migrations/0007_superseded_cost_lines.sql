-- Billing rows a re-delivered month replaced, kept so that rolling back the re-delivery puts them back
-- (engine/ingest.py: `_replace_superseded`, `rollback_batch`). Same columns as cost_line plus the replacing batch.
-- A later migration that adds a column to cost_line adds it here too.
CREATE TABLE cost_line_superseded AS SELECT *, CAST(NULL AS VARCHAR) AS superseded_by FROM cost_line LIMIT 0;
