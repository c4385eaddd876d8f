-- FOCUS detail an auditor asks for (connectors/billing/focus.py; docs/ingestion.md "FOCUS 1.0–1.4").
-- NULL for every other connector and for a FOCUS file that lacks the column.
ALTER TABLE cost_line ADD COLUMN origin_resource_id VARCHAR;            -- a split row's own ResourceId (1.3)
ALTER TABLE cost_line ADD COLUMN allocated_method_details VARCHAR;      -- AllocatedMethodDetails, JSON text (1.3)
ALTER TABLE cost_line ADD COLUMN commitment_discount_category VARCHAR;  -- Spend / Usage
ALTER TABLE cost_line ADD COLUMN commitment_discount_name VARCHAR;
ALTER TABLE cost_line ADD COLUMN commitment_discount_quantity DOUBLE;   -- in commitment_discount_unit (1.1)
ALTER TABLE cost_line ADD COLUMN commitment_discount_unit VARCHAR;
ALTER TABLE cost_line ADD COLUMN capacity_reservation_id VARCHAR;       -- (1.1)
ALTER TABLE cost_line ADD COLUMN capacity_reservation_status VARCHAR;   -- Used / Unused (1.1)
ALTER TABLE cost_line ADD COLUMN contract_applied VARCHAR;              -- ContractApplied, JSON text (1.3)
ALTER TABLE cost_line ADD COLUMN service_subcategory VARCHAR;           -- (1.1)
ALTER TABLE cost_line ADD COLUMN sku_price_id VARCHAR;
ALTER TABLE cost_line ADD COLUMN pricing_currency VARCHAR;              -- (1.2) the amount below is in it
ALTER TABLE cost_line ADD COLUMN pricing_currency_effective_cost DECIMAL(38, 10);

-- cost_line_superseded gets the same columns by being rebuilt as cost_line's columns, in cost_line's order,
-- followed by superseded_by: engine/ingest/pipeline.py copies rows between the two tables by position
-- (`SELECT c.*, ?` and `SELECT * EXCLUDE (superseded_by)`), so a column appended after superseded_by would
-- shift every value after it. The kept rows are copied by name; this also puts right the columns any earlier
-- migration appended to both tables.
CREATE TABLE cost_line_superseded_0026 AS
    SELECT *, CAST(NULL AS VARCHAR) AS superseded_by FROM cost_line LIMIT 0;
INSERT INTO cost_line_superseded_0026 BY NAME SELECT * FROM cost_line_superseded;
DROP TABLE cost_line_superseded;
ALTER TABLE cost_line_superseded_0026 RENAME TO cost_line_superseded;
