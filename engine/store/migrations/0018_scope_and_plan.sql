-- Scope and basis per rule set (engine/scope/): every save is a new version with an audit event; the version in
-- force for a month is the newest whose effective_from is at or before it (NULL = every month). Never updated.
CREATE TABLE scope_version (
    rule_set        VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    effective_from  VARCHAR,                   -- YYYY-MM (a fiscal period's slot, docs/fiscal-calendar.md)
    body            JSON NOT NULL,             -- engine/scope/model.py Scope: threshold, overhead, pools
    saved_by        VARCHAR NOT NULL,
    saved_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    note            VARCHAR,
    PRIMARY KEY (rule_set, version)
);

-- FP&A plans (engine/fiscal/plan.py): one row per imported file, and the plan in force per period and cost
-- centre (a later import replaces the pairs it names, in one transaction with its import row and audit event).
CREATE TABLE plan_import (
    import_id       VARCHAR PRIMARY KEY,       -- sha256 of the file's bytes
    file_name       VARCHAR NOT NULL,
    row_count       INTEGER NOT NULL,
    total           DECIMAL(18, 2) NOT NULL,
    currency        VARCHAR NOT NULL,
    loaded_by       VARCHAR NOT NULL,
    loaded_at       TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE plan_line (
    period          VARCHAR NOT NULL,          -- YYYY-MM slot of the fiscal period
    cost_center_id  VARCHAR NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL,
    currency        VARCHAR NOT NULL,
    import_id       VARCHAR NOT NULL,
    PRIMARY KEY (period, cost_center_id)
);
