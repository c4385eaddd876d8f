-- Inventory ingestion (issue 3): additive only. One file for both needs because migration numbers must be unique.

-- Purchasing facts the inventories carry (Jamf PO and warranty, ServiceNow/Snipe-IT warranty), kept for
-- reconciliation and the warranty view; the depreciation engine does not need them.
ALTER TABLE asset ADD COLUMN purchase_order VARCHAR;
ALTER TABLE asset ADD COLUMN warranty_expires DATE;

-- Named column mappings for generic CSV/XLSX/Parquet files, reusable from the CLI (`--mapping NAME`).
CREATE TABLE mapping_profile (
    name            VARCHAR PRIMARY KEY,
    target_table    VARCHAR NOT NULL,
    body            JSON NOT NULL,              -- {"columns": {"target column": "source column"}, "constants": {...}}
    created_by      VARCHAR,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
