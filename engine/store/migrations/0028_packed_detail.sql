-- Every stored column of cost_line costs every line of a load, NULL or not (2M lines: 13 all-NULL VARCHAR
-- columns add 1.7 s to a CREATE TABLE AS on disk, whatever the compression; docs/ingestion.md "FOCUS 1.0–1.4").
-- Rare detail moves into two JSON text columns and the old names become VIRTUAL generated columns, so every
-- reader keeps its column names and nothing is computed at load for them:
--   focus_detail  the FOCUS 1.1-1.3 detail of migration 0026 a line carries (NULL when none);
--   fx_detail     a converted line's reporting currency, rate and the file's own amounts (NULL for a line billed
--                 in the reporting currency: its rate is 1 and its amounts are the file's).
-- Amounts and rates are packed as strings, so they read back exact. The rebuilt tables carry no NOT NULL
-- constraints: verifying them cost ~10 % of a 2M-line load (measured, 9.3 s against 8.5 s); the pipeline's checks
-- quarantine a line missing a required column before it is written, and the load verifies in its transaction that
-- no written line lacks one (engine/ingest/pipeline.py `_verify_required`), refusing the load otherwise.
-- DuckDB cannot add a generated column to an existing table, nor copy a table's definition, so cost_line and
-- cost_line_superseded are rebuilt, each spelled out (same stored columns in the same order,
-- superseded_by after them); writers name their columns (engine/ingest/contract/frames.py stored_columns).
CREATE TABLE cost_line_0028 (
    billing_period VARCHAR,
    charge_period_start TIMESTAMP,
    charge_period_end TIMESTAMP,
    provider VARCHAR,
    billing_account_id VARCHAR,
    sub_account_id VARCHAR,
    service_name VARCHAR,
    service_category VARCHAR,
    resource_id VARCHAR,
    resource_type VARCHAR,
    region_id VARCHAR,
    sku_id VARCHAR,
    charge_category VARCHAR,
    charge_class VARCHAR,
    pricing_category VARCHAR,
    commitment_discount_id VARCHAR,
    commitment_discount_status VARCHAR,
    billed_cost DECIMAL(38,10),
    effective_cost DECIMAL(38,10),
    list_cost DECIMAL(38,10),
    contracted_cost DECIMAL(38,10),
    consumed_quantity DOUBLE,
    consumed_unit VARCHAR,
    pricing_quantity DOUBLE,
    pricing_unit VARCHAR,
    billing_currency VARCHAR,
    tags MAP(VARCHAR, VARCHAR),
    tag_cost_center VARCHAR,
    tag_application VARCHAR,
    tag_environment VARCHAR,
    invoice_id VARCHAR,
    batch_id VARCHAR,
    charge_frequency VARCHAR,
    charge_description VARCHAR,
    resource_name VARCHAR,
    region_name VARCHAR,
    availability_zone VARCHAR,
    sub_account_name VARCHAR,
    commitment_discount_type VARCHAR,
    allocated_method_id VARCHAR,
    tag_owner VARCHAR,
    tag_org VARCHAR,
    commitment_discount_category VARCHAR,
    commitment_discount_name VARCHAR,
    sku_price_id VARCHAR,
    focus_detail VARCHAR,
    fx_detail VARCHAR,
    billed_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'billed_cost' AS DECIMAL(38,10)), billed_cost)) VIRTUAL,
    effective_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'effective_cost' AS DECIMAL(38,10)), effective_cost)) VIRTUAL,
    list_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'list_cost' AS DECIMAL(38,10)), list_cost)) VIRTUAL,
    contracted_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'contracted_cost' AS DECIMAL(38,10)), contracted_cost)) VIRTUAL,
    reporting_currency VARCHAR GENERATED ALWAYS AS (coalesce(fx_detail ->> 'reporting_currency', billing_currency)) VIRTUAL,
    fx_rate DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'fx_rate' AS DECIMAL(38,10)), CAST(1 AS DECIMAL(38,10)))) VIRTUAL,
    origin_resource_id VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'origin_resource_id') VIRTUAL,
    allocated_method_details VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'allocated_method_details') VIRTUAL,
    commitment_discount_quantity DOUBLE GENERATED ALWAYS AS (CAST(focus_detail ->> 'commitment_discount_quantity' AS DOUBLE)) VIRTUAL,
    commitment_discount_unit VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'commitment_discount_unit') VIRTUAL,
    capacity_reservation_id VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'capacity_reservation_id') VIRTUAL,
    capacity_reservation_status VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'capacity_reservation_status') VIRTUAL,
    contract_applied VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'contract_applied') VIRTUAL,
    service_subcategory VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'service_subcategory') VIRTUAL,
    pricing_currency VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'pricing_currency') VIRTUAL,
    pricing_currency_effective_cost DECIMAL(38,10) GENERATED ALWAYS AS (CAST(focus_detail ->> 'pricing_currency_effective_cost' AS DECIMAL(38,10))) VIRTUAL
);
INSERT INTO cost_line_0028 (billing_period, charge_period_start, charge_period_end, provider, billing_account_id, sub_account_id, service_name, service_category, resource_id, resource_type, region_id, sku_id, charge_category, charge_class, pricing_category, commitment_discount_id, commitment_discount_status, billed_cost, effective_cost, list_cost, contracted_cost, consumed_quantity, consumed_unit, pricing_quantity, pricing_unit, billing_currency, tags, tag_cost_center, tag_application, tag_environment, invoice_id, batch_id, charge_frequency, charge_description, resource_name, region_name, availability_zone, sub_account_name, commitment_discount_type, allocated_method_id, tag_owner, tag_org, commitment_discount_category, commitment_discount_name, sku_price_id, focus_detail, fx_detail)
    SELECT billing_period, charge_period_start, charge_period_end, provider, billing_account_id, sub_account_id, service_name, service_category, resource_id, resource_type, region_id, sku_id, charge_category, charge_class, pricing_category, commitment_discount_id, commitment_discount_status, billed_cost, effective_cost, list_cost, contracted_cost, consumed_quantity, consumed_unit, pricing_quantity, pricing_unit, billing_currency, tags, tag_cost_center, tag_application, tag_environment, invoice_id, batch_id, charge_frequency, charge_description, resource_name, region_name, availability_zone, sub_account_name, commitment_discount_type, allocated_method_id, tag_owner, tag_org, commitment_discount_category, commitment_discount_name, sku_price_id,
    CASE WHEN origin_resource_id IS NOT NULL OR allocated_method_details IS NOT NULL OR commitment_discount_quantity IS NOT NULL OR commitment_discount_unit IS NOT NULL OR capacity_reservation_id IS NOT NULL OR capacity_reservation_status IS NOT NULL OR contract_applied IS NOT NULL OR service_subcategory IS NOT NULL OR pricing_currency IS NOT NULL OR pricing_currency_effective_cost IS NOT NULL
        THEN CAST(json_object('origin_resource_id', origin_resource_id, 'allocated_method_details', allocated_method_details, 'commitment_discount_quantity', commitment_discount_quantity, 'commitment_discount_unit', commitment_discount_unit, 'capacity_reservation_id', capacity_reservation_id, 'capacity_reservation_status', capacity_reservation_status, 'contract_applied', contract_applied, 'service_subcategory', service_subcategory, 'pricing_currency', pricing_currency, 'pricing_currency_effective_cost', CAST(pricing_currency_effective_cost AS VARCHAR)) AS VARCHAR) END,
    CASE WHEN reporting_currency IS NOT NULL AND reporting_currency <> billing_currency
        THEN CAST(json_object('reporting_currency', reporting_currency, 'fx_rate', CAST(fx_rate AS VARCHAR), 'billed_cost', CAST(billed_cost_billing AS VARCHAR), 'effective_cost', CAST(effective_cost_billing AS VARCHAR), 'list_cost', CAST(list_cost_billing AS VARCHAR), 'contracted_cost', CAST(contracted_cost_billing AS VARCHAR)) AS VARCHAR) END
    FROM cost_line;
DROP TABLE cost_line;
ALTER TABLE cost_line_0028 RENAME TO cost_line;

CREATE TABLE cost_line_superseded_0028 (
    billing_period VARCHAR,
    charge_period_start TIMESTAMP,
    charge_period_end TIMESTAMP,
    provider VARCHAR,
    billing_account_id VARCHAR,
    sub_account_id VARCHAR,
    service_name VARCHAR,
    service_category VARCHAR,
    resource_id VARCHAR,
    resource_type VARCHAR,
    region_id VARCHAR,
    sku_id VARCHAR,
    charge_category VARCHAR,
    charge_class VARCHAR,
    pricing_category VARCHAR,
    commitment_discount_id VARCHAR,
    commitment_discount_status VARCHAR,
    billed_cost DECIMAL(38,10),
    effective_cost DECIMAL(38,10),
    list_cost DECIMAL(38,10),
    contracted_cost DECIMAL(38,10),
    consumed_quantity DOUBLE,
    consumed_unit VARCHAR,
    pricing_quantity DOUBLE,
    pricing_unit VARCHAR,
    billing_currency VARCHAR,
    tags MAP(VARCHAR, VARCHAR),
    tag_cost_center VARCHAR,
    tag_application VARCHAR,
    tag_environment VARCHAR,
    invoice_id VARCHAR,
    batch_id VARCHAR,
    charge_frequency VARCHAR,
    charge_description VARCHAR,
    resource_name VARCHAR,
    region_name VARCHAR,
    availability_zone VARCHAR,
    sub_account_name VARCHAR,
    commitment_discount_type VARCHAR,
    allocated_method_id VARCHAR,
    tag_owner VARCHAR,
    tag_org VARCHAR,
    commitment_discount_category VARCHAR,
    commitment_discount_name VARCHAR,
    sku_price_id VARCHAR,
    focus_detail VARCHAR,
    fx_detail VARCHAR,
    superseded_by VARCHAR,
    billed_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'billed_cost' AS DECIMAL(38,10)), billed_cost)) VIRTUAL,
    effective_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'effective_cost' AS DECIMAL(38,10)), effective_cost)) VIRTUAL,
    list_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'list_cost' AS DECIMAL(38,10)), list_cost)) VIRTUAL,
    contracted_cost_billing DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'contracted_cost' AS DECIMAL(38,10)), contracted_cost)) VIRTUAL,
    reporting_currency VARCHAR GENERATED ALWAYS AS (coalesce(fx_detail ->> 'reporting_currency', billing_currency)) VIRTUAL,
    fx_rate DECIMAL(38,10) GENERATED ALWAYS AS
        (coalesce(CAST(fx_detail ->> 'fx_rate' AS DECIMAL(38,10)), CAST(1 AS DECIMAL(38,10)))) VIRTUAL,
    origin_resource_id VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'origin_resource_id') VIRTUAL,
    allocated_method_details VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'allocated_method_details') VIRTUAL,
    commitment_discount_quantity DOUBLE GENERATED ALWAYS AS (CAST(focus_detail ->> 'commitment_discount_quantity' AS DOUBLE)) VIRTUAL,
    commitment_discount_unit VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'commitment_discount_unit') VIRTUAL,
    capacity_reservation_id VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'capacity_reservation_id') VIRTUAL,
    capacity_reservation_status VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'capacity_reservation_status') VIRTUAL,
    contract_applied VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'contract_applied') VIRTUAL,
    service_subcategory VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'service_subcategory') VIRTUAL,
    pricing_currency VARCHAR GENERATED ALWAYS AS (focus_detail ->> 'pricing_currency') VIRTUAL,
    pricing_currency_effective_cost DECIMAL(38,10) GENERATED ALWAYS AS (CAST(focus_detail ->> 'pricing_currency_effective_cost' AS DECIMAL(38,10))) VIRTUAL
);
INSERT INTO cost_line_superseded_0028 (billing_period, charge_period_start, charge_period_end, provider, billing_account_id, sub_account_id, service_name, service_category, resource_id, resource_type, region_id, sku_id, charge_category, charge_class, pricing_category, commitment_discount_id, commitment_discount_status, billed_cost, effective_cost, list_cost, contracted_cost, consumed_quantity, consumed_unit, pricing_quantity, pricing_unit, billing_currency, tags, tag_cost_center, tag_application, tag_environment, invoice_id, batch_id, charge_frequency, charge_description, resource_name, region_name, availability_zone, sub_account_name, commitment_discount_type, allocated_method_id, tag_owner, tag_org, commitment_discount_category, commitment_discount_name, sku_price_id, focus_detail, fx_detail, superseded_by)
    SELECT billing_period, charge_period_start, charge_period_end, provider, billing_account_id, sub_account_id, service_name, service_category, resource_id, resource_type, region_id, sku_id, charge_category, charge_class, pricing_category, commitment_discount_id, commitment_discount_status, billed_cost, effective_cost, list_cost, contracted_cost, consumed_quantity, consumed_unit, pricing_quantity, pricing_unit, billing_currency, tags, tag_cost_center, tag_application, tag_environment, invoice_id, batch_id, charge_frequency, charge_description, resource_name, region_name, availability_zone, sub_account_name, commitment_discount_type, allocated_method_id, tag_owner, tag_org, commitment_discount_category, commitment_discount_name, sku_price_id,
    CASE WHEN origin_resource_id IS NOT NULL OR allocated_method_details IS NOT NULL OR commitment_discount_quantity IS NOT NULL OR commitment_discount_unit IS NOT NULL OR capacity_reservation_id IS NOT NULL OR capacity_reservation_status IS NOT NULL OR contract_applied IS NOT NULL OR service_subcategory IS NOT NULL OR pricing_currency IS NOT NULL OR pricing_currency_effective_cost IS NOT NULL
        THEN CAST(json_object('origin_resource_id', origin_resource_id, 'allocated_method_details', allocated_method_details, 'commitment_discount_quantity', commitment_discount_quantity, 'commitment_discount_unit', commitment_discount_unit, 'capacity_reservation_id', capacity_reservation_id, 'capacity_reservation_status', capacity_reservation_status, 'contract_applied', contract_applied, 'service_subcategory', service_subcategory, 'pricing_currency', pricing_currency, 'pricing_currency_effective_cost', CAST(pricing_currency_effective_cost AS VARCHAR)) AS VARCHAR) END,
    CASE WHEN reporting_currency IS NOT NULL AND reporting_currency <> billing_currency
        THEN CAST(json_object('reporting_currency', reporting_currency, 'fx_rate', CAST(fx_rate AS VARCHAR), 'billed_cost', CAST(billed_cost_billing AS VARCHAR), 'effective_cost', CAST(effective_cost_billing AS VARCHAR), 'list_cost', CAST(list_cost_billing AS VARCHAR), 'contracted_cost', CAST(contracted_cost_billing AS VARCHAR)) AS VARCHAR) END,
    superseded_by
    FROM cost_line_superseded;
DROP TABLE cost_line_superseded;
ALTER TABLE cost_line_superseded_0028 RENAME TO cost_line_superseded;
