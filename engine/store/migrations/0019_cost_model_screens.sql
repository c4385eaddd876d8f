-- Screens for the cost models (docs/cost-models.md, docs/invoices.md): asset disposals, invoice disputes with the
-- vendor, the showback → chargeback transition plan and the service catalogue. Additive only.

-- An asset leaves the register: depreciation stops with the last month ended before the disposal date.
CREATE TABLE asset_disposal (
    asset_id        VARCHAR PRIMARY KEY,
    disposed_on     DATE NOT NULL,
    proceeds        DECIMAL(18, 2) NOT NULL DEFAULT 0,
    reason          VARCHAR NOT NULL,
    recorded_by     VARCHAR NOT NULL,
    recorded_at     TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- A dispute raised with a vendor about one invoice (not a charge dispute of an app owner: engine/improvement/).
CREATE SEQUENCE invoice_dispute_no START 1;
CREATE TABLE invoice_dispute (
    dispute_id      INTEGER PRIMARY KEY DEFAULT nextval('invoice_dispute_no'),
    invoice_id      VARCHAR NOT NULL,
    vendor          VARCHAR NOT NULL,
    billing_period  VARCHAR NOT NULL,          -- YYYY-MM
    amount          DECIMAL(18, 2) NOT NULL CHECK (amount > 0),
    currency        VARCHAR NOT NULL,
    billed          DECIMAL(18, 2),            -- what the billing data showed when the dispute was opened
    invoice_total   DECIMAL(18, 2) NOT NULL,   -- the invoice total at that time
    reason          VARCHAR NOT NULL,
    status          VARCHAR NOT NULL CHECK (status IN ('open', 'sent', 'credited', 'rejected', 'withdrawn')),
    credit_amount   DECIMAL(18, 2),
    resolution      VARCHAR,
    opened_by       VARCHAR NOT NULL,
    opened_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by      VARCHAR NOT NULL,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Chargeback share per business unit from a month on; every save is a new version of the named plan.
CREATE TABLE transition_plan (
    plan            VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    business_unit_id VARCHAR NOT NULL,
    effective_from  VARCHAR NOT NULL,          -- YYYY-MM
    chargeback_pct  DECIMAL(5, 2) NOT NULL CHECK (chargeback_pct BETWEEN 0 AND 100),
    author          VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (plan, version, business_unit_id, effective_from)
);

-- Service catalogue: items with support tiers, SLAs and unit rates; published into a rate card. Versioned.
CREATE TABLE service_catalogue (
    version         INTEGER NOT NULL,
    item            VARCHAR NOT NULL,
    name            VARCHAR NOT NULL,
    unit            VARCHAR NOT NULL,
    tier            VARCHAR NOT NULL,
    sla             VARCHAR NOT NULL,
    unit_price      DECIMAL(18, 6) NOT NULL CHECK (unit_price >= 0),
    per_application BOOLEAN NOT NULL,          -- priced once per application and month (the app's tier applies)
    author          VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (version, item, tier)
);
