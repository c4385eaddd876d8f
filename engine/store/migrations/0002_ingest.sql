-- Ingest additions (additive only). FOCUS columns the canonical line keeps beyond 0001, the scope of each billing
-- batch (what a re-delivered month replaces) and the tag standard. (mapping_profile is in 0005_inventory.sql.)

ALTER TABLE cost_line ADD COLUMN charge_frequency VARCHAR;       -- One-Time, Recurring, Usage-Based
ALTER TABLE cost_line ADD COLUMN charge_description VARCHAR;
ALTER TABLE cost_line ADD COLUMN resource_name VARCHAR;
ALTER TABLE cost_line ADD COLUMN region_name VARCHAR;
ALTER TABLE cost_line ADD COLUMN availability_zone VARCHAR;
ALTER TABLE cost_line ADD COLUMN sub_account_name VARCHAR;
ALTER TABLE cost_line ADD COLUMN commitment_discount_type VARCHAR;
ALTER TABLE cost_line ADD COLUMN allocated_method_id VARCHAR;    -- FOCUS 1.3 provider-side split
ALTER TABLE cost_line ADD COLUMN tag_owner VARCHAR;
ALTER TABLE cost_line ADD COLUMN tag_org VARCHAR;

-- One row per (provider, billing account, billing period) a cost_line batch holds.
CREATE TABLE ingest_batch_scope (
    batch_id           VARCHAR NOT NULL,
    provider           VARCHAR NOT NULL,
    billing_account_id VARCHAR NOT NULL,     -- '' when the export has none
    billing_period     VARCHAR NOT NULL,
    rows_loaded        BIGINT NOT NULL,
    billed_cost        DECIMAL(38, 10),
    effective_cost     DECIMAL(38, 10),
    replaced_by        VARCHAR
);

CREATE TABLE tag_standard (
    name           VARCHAR PRIMARY KEY,
    body           JSON NOT NULL,           -- engine/tags.py TagStandard.to_json()
    updated_by     VARCHAR,
    updated_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);
