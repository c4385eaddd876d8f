-- Cost models (docs/cost-models.md): versioned unused-commitment policy, invoices to validate billing against,
-- and rate cards. Additive only.

CREATE TABLE commitment_policy (
    version         INTEGER PRIMARY KEY,
    mode            VARCHAR NOT NULL CHECK (mode IN ('keep_central', 'spread_pro_rata', 'on_demand_equivalent')),
    effective_from  VARCHAR NOT NULL,          -- YYYY-MM
    central_target  VARCHAR NOT NULL,
    reason          VARCHAR,
    author          VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Vendor invoice totals as entered or uploaded by finance; one row per invoice id and vendor.
CREATE TABLE invoice (
    invoice_id      VARCHAR NOT NULL,
    vendor          VARCHAR NOT NULL,          -- matches cost_line.provider
    billing_period  VARCHAR NOT NULL,          -- YYYY-MM
    total           DECIMAL(18, 2) NOT NULL,
    currency        VARCHAR NOT NULL,
    source          VARCHAR NOT NULL CHECK (source IN ('manual', 'upload')),
    entered_by      VARCHAR NOT NULL,
    entered_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (invoice_id, vendor)
);

-- Unit prices per service-catalogue item and support tier, versioned per card name.
CREATE TABLE rate_card (
    card            VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    item            VARCHAR NOT NULL,
    tier            VARCHAR NOT NULL,          -- support tier / SLA; 'any' when the price does not depend on it
    unit            VARCHAR NOT NULL,
    unit_price      DECIMAL(18, 6) NOT NULL,
    effective_from  VARCHAR NOT NULL,
    author          VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (card, version, item, tier)
);
