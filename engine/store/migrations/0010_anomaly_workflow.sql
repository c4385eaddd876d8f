-- The anomaly workflow (issue 13, engine/insights/anomalies/workflow.py): additive only.

-- An `anomaly` row is one incident: consecutive flagged days (months, for the monthly rule) of one scope and rule.
-- The 0001 columns keep their meaning: period = YYYY-MM of the first day, metric = 'effective_cost', expected /
-- actual = the incident's sums (DOUBLE, for readers of the old shape), score = the highest score of its days,
-- ticket_ref = the ticket system's reference (PROJ-12, INC0010001) once the ticket is open.
ALTER TABLE anomaly ADD COLUMN rule VARCHAR;
ALTER TABLE anomaly ADD COLUMN first_date DATE;
ALTER TABLE anomaly ADD COLUMN last_date DATE;
ALTER TABLE anomaly ADD COLUMN flagged_days INTEGER;
ALTER TABLE anomaly ADD COLUMN actual_total DECIMAL(18, 2);
ALTER TABLE anomaly ADD COLUMN expected_total DECIMAL(18, 2);
ALTER TABLE anomaly ADD COLUMN excess DECIMAL(18, 2);
ALTER TABLE anomaly ADD COLUMN cost_center_id VARCHAR;
ALTER TABLE anomaly ADD COLUMN owner VARCHAR;
ALTER TABLE anomaly ADD COLUMN comment VARCHAR;
ALTER TABLE anomaly ADD COLUMN updated_at TIMESTAMP;
ALTER TABLE anomaly ADD COLUMN updated_by VARCHAR;
ALTER TABLE anomaly ADD COLUMN resolved_at TIMESTAMP;
ALTER TABLE anomaly ADD COLUMN ticket_id VARCHAR;
ALTER TABLE anomaly ADD COLUMN ticket_url VARCHAR;
ALTER TABLE anomaly ADD COLUMN pattern_id VARCHAR;

CREATE SEQUENCE anomaly_seq START 1;

-- One row per flagged day (or month) as the detector reported it; the key makes re-detection idempotent.
CREATE TABLE anomaly_flag (
    scope_kind      VARCHAR NOT NULL,
    scope_id        VARCHAR NOT NULL,
    rule            VARCHAR NOT NULL,
    date            DATE NOT NULL,
    anomaly_id      VARCHAR NOT NULL,
    actual          DECIMAL(18, 2) NOT NULL,
    expected        DECIMAL(18, 2) NOT NULL,
    excess          DECIMAL(18, 2) NOT NULL,
    score           DOUBLE,
    detected_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (scope_kind, scope_id, rule, date)
);

-- Expected patterns, recorded when a person marks an anomaly a false positive: later flags of the same scope and
-- rule (on that weekday / day of the month when one is given) are not raised again.
CREATE TABLE anomaly_pattern (
    pattern_id        VARCHAR PRIMARY KEY,
    scope_kind        VARCHAR NOT NULL,
    scope_id          VARCHAR NOT NULL,
    rule              VARCHAR NOT NULL,
    weekday           INTEGER CHECK (weekday BETWEEN 0 AND 6),        -- 0 = Monday; NULL = any day
    day_of_month      INTEGER CHECK (day_of_month BETWEEN 1 AND 31),  -- NULL = any day
    cost_center_id    VARCHAR,
    source_anomaly_id VARCHAR,
    note              VARCHAR,
    created_by        VARCHAR NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    active            BOOLEAN NOT NULL DEFAULT TRUE
);
