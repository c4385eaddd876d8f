-- Continuous improvement (issue 17): disputes, notifications, statement views, KPI targets, rule reviews,
-- cost avoidance, the allocation system's own cost. Additive only.

-- The charge dispute of an app owner on one statement line (0001 created the bare table; these columns complete it).
ALTER TABLE dispute ADD COLUMN period VARCHAR;               -- the statement's month
ALTER TABLE dispute ADD COLUMN step INTEGER;                 -- the disputed line: step, step name, pool, application
ALTER TABLE dispute ADD COLUMN step_name VARCHAR;
ALTER TABLE dispute ADD COLUMN source_pool VARCHAR;
ALTER TABLE dispute ADD COLUMN app_id VARCHAR;
ALTER TABLE dispute ADD COLUMN line_amount DECIMAL(18, 2);   -- the line as charged when disputed
ALTER TABLE dispute ADD COLUMN evidence VARCHAR;
ALTER TABLE dispute ADD COLUMN decided_by VARCHAR;
ALTER TABLE dispute ADD COLUMN decided_at TIMESTAMP;
ALTER TABLE dispute ADD COLUMN assign_kind VARCHAR;          -- accepted: where the amount goes (cost_center, unallocated)
ALTER TABLE dispute ADD COLUMN assign_to VARCHAR;
ALTER TABLE dispute ADD COLUMN adjust_period VARCHAR;        -- accepted: the month whose run posts the adjustment
ALTER TABLE dispute ADD COLUMN posted_run_key VARCHAR;       -- the run that posted it (latest)

-- In-app notifications (both sides of a dispute, later any workflow).
CREATE TABLE notification (
    notification_id VARCHAR PRIMARY KEY,
    username        VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    subject         VARCHAR NOT NULL,
    body            VARCHAR NOT NULL,
    entity          VARCHAR,
    entity_id       VARCHAR,
    read_at         TIMESTAMP
);

-- The first time a user opened a cost centre's statement for a month (adoption KPI).
CREATE TABLE statement_view (
    username        VARCHAR NOT NULL,
    cost_center_id  VARCHAR NOT NULL,
    period          VARCHAR NOT NULL,
    viewed_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (username, cost_center_id, period)
);

-- Editable KPI target bands (seeded in code from published FinOps guidance, docs/improvement.md).
CREATE TABLE kpi_target (
    kpi             VARCHAR PRIMARY KEY,
    good            DOUBLE NOT NULL,    -- at or beyond: on target
    fair            DOUBLE NOT NULL,    -- at or beyond: near target; else off target
    updated_by      VARCHAR NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Reviews of a rule set or one of its pools (steps).
CREATE TABLE rule_review (
    review_id       VARCHAR PRIMARY KEY,
    subject_kind    VARCHAR NOT NULL CHECK (subject_kind IN ('rule_set', 'pool')),
    rule_set        VARCHAR NOT NULL,
    pool            VARCHAR,            -- the step id for a pool review
    reviewed_by     VARCHAR NOT NULL,
    reviewed_at     TIMESTAMP NOT NULL,
    checked         VARCHAR NOT NULL,   -- what was checked
    decision        VARCHAR NOT NULL CHECK (decision IN ('keep', 'change')),
    draft_version   INTEGER             -- change: the draft it opened
);

-- Optimisation actions and the run-rate they avoided.
CREATE TABLE avoidance_action (
    action_id       VARCHAR PRIMARY KEY,
    kind            VARCHAR NOT NULL CHECK (kind IN ('rightsizing', 'decommissioning', 'licence_harvesting',
                                                     'commitment_purchase')),
    title           VARCHAR NOT NULL,
    cost_center_id  VARCHAR NOT NULL,
    asset_id        VARCHAR,
    effective_from  VARCHAR NOT NULL,   -- YYYY-MM: first month without the avoided cost
    before_monthly  DECIMAL(18, 2) NOT NULL,
    after_monthly   DECIMAL(18, 2) NOT NULL,
    derivation      JSON,               -- how a derived before/after was built
    recorded_by     VARCHAR NOT NULL,
    recorded_at     TIMESTAMP NOT NULL
);

-- The allocation system's own cost: entered per month (hours, compute, storage) and measured run times.
CREATE TABLE operating_cost (
    entry_id        VARCHAR PRIMARY KEY,
    period          VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL CHECK (kind IN ('people_hours', 'compute', 'storage', 'manual_step')),
    quantity        DECIMAL(18, 4) NOT NULL,   -- hours, or 1 for a money entry, or steps
    amount          DECIMAL(18, 2) NOT NULL,
    note            VARCHAR,
    entered_by      VARCHAR NOT NULL,
    entered_at      TIMESTAMP NOT NULL
);

CREATE TABLE allocation_run_timing (
    run_key         VARCHAR PRIMARY KEY,
    period          VARCHAR NOT NULL,
    seconds         DOUBLE NOT NULL,
    recorded_at     TIMESTAMP NOT NULL
);
