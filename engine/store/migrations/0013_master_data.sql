-- Effective-dated master data: who owns what, month by month.
-- The tables org_unit, application and account_owner hold the latest known state; a master-data batch changes
-- them and records, per field, the value it replaced and the month from which the new one applies. The state as of
-- a month is the latest state with every later batch's changes undone (engine/masterdata/as_of.py).
CREATE SEQUENCE master_data_batch_no START 1;

CREATE TABLE master_data_batch (
    batch_no        INTEGER PRIMARY KEY DEFAULT nextval('master_data_batch_no'),
    effective_from  VARCHAR NOT NULL,           -- YYYY-MM: the first month the new values apply to
    reason          VARCHAR NOT NULL,
    created_by      VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    reverted_by     VARCHAR,
    reverted_at     TIMESTAMP,
    revert_reason   VARCHAR
);

CREATE TABLE master_data_change (
    batch_no        INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    entity          VARCHAR NOT NULL CHECK (entity IN ('application', 'org_unit', 'account_owner')),
    entity_key      VARCHAR NOT NULL,           -- app_id, unit_id, or provider || '/' || sub_account_id
    field           VARCHAR NOT NULL,
    old_value       VARCHAR,
    new_value       VARCHAR,
    PRIMARY KEY (batch_no, seq)
);

-- The org a posted run allocated with (cost centres' business units, applications' and accounts' owners), so a
-- diff between two runs can name what moved and an auditor can re-derive the roll-up.
CREATE TABLE allocation_run_org (
    run_key         VARCHAR PRIMARY KEY,
    org             JSON NOT NULL
);
