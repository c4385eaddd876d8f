-- Canonical model (DESIGN.md §3). Money is DECIMAL: source amounts keep 10 decimals, posted amounts cents.

CREATE TABLE org_unit (
    unit_id        VARCHAR PRIMARY KEY,
    name           VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL CHECK (kind IN ('business_unit', 'cost_center')),
    parent_id      VARCHAR,               -- a cost centre's business unit
    manager        VARCHAR
);

CREATE TABLE application (
    app_id         VARCHAR PRIMARY KEY,
    name           VARCHAR NOT NULL,
    owner          VARCHAR,               -- username of the app owner
    cost_center_id VARCHAR NOT NULL,
    tier           VARCHAR,               -- gold / silver / bronze
    sla            VARCHAR
);

CREATE TABLE app_user (
    username       VARCHAR PRIMARY KEY,
    display_name   VARCHAR NOT NULL,
    email          VARCHAR,
    role           VARCHAR NOT NULL CHECK (role IN ('admin', 'finops', 'executive', 'app_owner', 'auditor')),
    password_hash  VARCHAR NOT NULL       -- bcrypt; plain passwords are never stored
);

-- Which cost centres an app owner may see; the engine scopes every app-owner query with it.
CREATE TABLE user_scope (
    username       VARCHAR NOT NULL,
    cost_center_id VARCHAR NOT NULL,
    PRIMARY KEY (username, cost_center_id)
);

-- Account/subscription owner: the second link of the direct-allocation fallback chain.
CREATE TABLE account_owner (
    provider       VARCHAR NOT NULL,
    sub_account_id VARCHAR NOT NULL,
    cost_center_id VARCHAR NOT NULL,
    app_id         VARCHAR,
    PRIMARY KEY (provider, sub_account_id)
);

CREATE TABLE ingest_batch (
    batch_id        VARCHAR PRIMARY KEY,
    source_kind     VARCHAR NOT NULL,     -- focus, aws_cur, azure_cost, jamf, demo, ...
    file_name       VARCHAR,
    content_hash    VARCHAR NOT NULL,
    target_table    VARCHAR NOT NULL,
    billing_period  VARCHAR,              -- YYYY-MM for billing batches (re-delivery replaces)
    loaded_by       VARCHAR,
    loaded_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    rows_read       BIGINT NOT NULL DEFAULT 0,
    rows_loaded     BIGINT NOT NULL DEFAULT 0,
    rows_quarantined BIGINT NOT NULL DEFAULT 0,
    status          VARCHAR NOT NULL DEFAULT 'loaded' CHECK (status IN ('loaded', 'replaced', 'rolled_back')),
    replaced_by     VARCHAR,
    note            VARCHAR
);

CREATE TABLE quarantine_row (
    batch_id       VARCHAR NOT NULL,
    row_number     BIGINT,                -- 1-based data row in the source file
    column_name    VARCHAR,
    reason         VARCHAR NOT NULL,
    raw            VARCHAR                -- the row as it came, JSON text
);

CREATE TABLE cost_line (
    billing_period          VARCHAR NOT NULL,    -- YYYY-MM of BillingPeriodStart
    charge_period_start     TIMESTAMP NOT NULL,
    charge_period_end       TIMESTAMP NOT NULL,  -- exclusive
    provider                VARCHAR NOT NULL,    -- FOCUS ServiceProviderName
    billing_account_id      VARCHAR,
    sub_account_id          VARCHAR,
    service_name            VARCHAR,
    service_category        VARCHAR,
    resource_id             VARCHAR,
    resource_type           VARCHAR,
    region_id               VARCHAR,
    sku_id                  VARCHAR,
    charge_category         VARCHAR,             -- Usage, Purchase, Tax, Credit, Adjustment
    charge_class            VARCHAR,             -- NULL or Correction
    pricing_category        VARCHAR,             -- Standard, Dynamic (spot), Committed, Other
    commitment_discount_id  VARCHAR,
    commitment_discount_status VARCHAR,          -- Used / Unused
    billed_cost             DECIMAL(38, 10) NOT NULL,
    effective_cost          DECIMAL(38, 10) NOT NULL,
    list_cost               DECIMAL(38, 10),
    contracted_cost         DECIMAL(38, 10),
    consumed_quantity       DOUBLE,
    consumed_unit           VARCHAR,
    pricing_quantity        DOUBLE,
    pricing_unit            VARCHAR,
    billing_currency        VARCHAR NOT NULL,
    tags                    MAP(VARCHAR, VARCHAR),  -- keys normalised (engine/tags.py)
    tag_cost_center         VARCHAR,             -- normalised allocation tags, extracted at ingest
    tag_application         VARCHAR,
    tag_environment         VARCHAR,
    invoice_id              VARCHAR,
    batch_id                VARCHAR NOT NULL
);

CREATE TABLE asset (
    asset_id            VARCHAR PRIMARY KEY,
    asset_tag           VARCHAR,
    serial              VARCHAR,
    class               VARCHAR NOT NULL,     -- laptop, desktop, server, storage, network, cloud_instance, licence
    model               VARCHAR,
    vendor              VARCHAR,
    owner               VARCHAR,
    cost_center_id      VARCHAR,
    app_id              VARCHAR,
    location            VARCHAR,
    environment         VARCHAR,
    lifecycle_status    VARCHAR,              -- in_use, in_stock, retired, disposed
    purchase_date       DATE,
    cost                DECIMAL(18, 2),
    residual            DECIMAL(18, 2) DEFAULT 0,
    useful_life_months  INTEGER,
    depreciation_method VARCHAR,              -- straight_line, ddb, syd, declining_balance, units
    depreciation_convention VARCHAR,          -- full_month, mid_month, half_year, mid_quarter
    source              VARCHAR,
    batch_id            VARCHAR
);

CREATE TABLE licence_entitlement (
    product         VARCHAR PRIMARY KEY,
    vendor          VARCHAR,
    entitlements    INTEGER NOT NULL,
    unit_cost_month DECIMAL(18, 4) NOT NULL,  -- per seat per month
    batch_id        VARCHAR
);

CREATE TABLE licence_assignment (
    product         VARCHAR NOT NULL,
    username        VARCHAR NOT NULL,
    cost_center_id  VARCHAR,
    assigned_on     DATE,
    last_active     DATE,
    batch_id        VARCHAR
);

CREATE TABLE driver_value (
    period          VARCHAR NOT NULL,          -- YYYY-MM
    driver          VARCHAR NOT NULL,          -- headcount, revenue, storage_gb_month, iops, bandwidth_gb, ...
    target_kind     VARCHAR NOT NULL,          -- cost_center, application, business_unit, user
    target_id       VARCHAR NOT NULL,
    quantity        DOUBLE NOT NULL,
    batch_id        VARCHAR
);

CREATE TABLE rule_set (
    name            VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    status          VARCHAR NOT NULL CHECK (status IN ('draft', 'pending', 'approved', 'retired', 'rejected')),
    author          VARCHAR NOT NULL,
    approver        VARCHAR,
    reason          VARCHAR,
    effective_from  VARCHAR,                   -- YYYY-MM
    parent_version  INTEGER,
    body            JSON NOT NULL,
    body_hash       VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (name, version)
);

CREATE TABLE scenario (
    name            VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    params          JSON NOT NULL,
    author          VARCHAR,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (name, version)
);

CREATE TABLE allocation_run (
    run_key         VARCHAR PRIMARY KEY,       -- hash(input batches, rule version, parameters)
    period          VARCHAR NOT NULL,
    rule_set        VARCHAR NOT NULL,
    rule_version    INTEGER NOT NULL,
    basis           VARCHAR NOT NULL CHECK (basis IN ('effective', 'billed')),
    params          JSON,
    total_in        DECIMAL(38, 10) NOT NULL,
    total_out       DECIMAL(38, 2) NOT NULL,
    status          VARCHAR NOT NULL,          -- posted, failed
    started_by      VARCHAR,
    started_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    finished_at     TIMESTAMP
);

CREATE TABLE allocation_result (
    run_key         VARCHAR NOT NULL,
    period          VARCHAR NOT NULL,
    step            INTEGER NOT NULL,
    step_name       VARCHAR,
    source_pool     VARCHAR NOT NULL,
    method          VARCHAR NOT NULL,
    driver          VARCHAR,
    target_kind     VARCHAR NOT NULL,
    target_id       VARCHAR NOT NULL,          -- 'UNALLOCATED' for the explicit unallocated line
    cost_center_id  VARCHAR,
    app_id          VARCHAR,
    service_name    VARCHAR,
    share           DOUBLE,                    -- fraction of the pool, unrounded
    amount          DECIMAL(38, 10) NOT NULL,  -- unrounded
    posted_amount   DECIMAL(18, 2) NOT NULL    -- cents, largest remainder per pool
);

CREATE SEQUENCE audit_seq START 1;
CREATE TABLE audit_event (
    seq             BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
    event_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    actor           VARCHAR NOT NULL,
    action          VARCHAR NOT NULL,
    entity          VARCHAR,
    entity_id       VARCHAR,
    detail          JSON,
    prev_hash       VARCHAR NOT NULL,
    row_hash        VARCHAR NOT NULL
);

CREATE TABLE anomaly (
    anomaly_id      VARCHAR PRIMARY KEY,
    period          VARCHAR,
    scope_kind      VARCHAR,
    scope_id        VARCHAR,
    metric          VARCHAR,
    expected        DOUBLE,
    actual          DOUBLE,
    score           DOUBLE,
    status          VARCHAR DEFAULT 'open',
    ticket_ref      VARCHAR,
    detected_at     TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE dispute (
    dispute_id      VARCHAR PRIMARY KEY,
    run_key         VARCHAR,
    cost_center_id  VARCHAR,
    amount          DECIMAL(18, 2),
    reason          VARCHAR,
    raised_by       VARCHAR,
    status          VARCHAR DEFAULT 'open',
    resolution      VARCHAR,
    raised_at       TIMESTAMP DEFAULT current_timestamp
);

CREATE TABLE budget (
    period          VARCHAR NOT NULL,
    cost_center_id  VARCHAR NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL,
    PRIMARY KEY (period, cost_center_id)
);

-- Pooled resources that resist the normal rules (shared load balancers, databases): explicit treatment.
CREATE TABLE exception (
    exception_id    VARCHAR PRIMARY KEY,
    match_field     VARCHAR NOT NULL,          -- resource_id, sub_account_id, service_name
    match_value     VARCHAR NOT NULL,
    treatment       JSON NOT NULL,             -- e.g. {"method": "fixed", "split": {"CC01": 0.6, "CC02": 0.4}}
    reason          VARCHAR NOT NULL,
    approved_by     VARCHAR,
    valid_from      VARCHAR,
    valid_to        VARCHAR
);
