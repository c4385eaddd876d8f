-- Quotas on resource classes per cost centre, and provisioning requests checked against quota and budget.
CREATE TABLE quota (
    cost_center_id  VARCHAR NOT NULL,
    resource_class  VARCHAR NOT NULL,          -- an asset class (server, storage, laptop …) or licence:<product>
    limit_qty       DECIMAL(18, 4) NOT NULL CHECK (limit_qty >= 0),
    set_by          VARCHAR NOT NULL,
    set_at          TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (cost_center_id, resource_class)
);

CREATE SEQUENCE provisioning_request_no START 1;

CREATE TABLE provisioning_request (
    request_no        INTEGER PRIMARY KEY DEFAULT nextval('provisioning_request_no'),
    requested_by      VARCHAR NOT NULL,
    cost_center_id    VARCHAR NOT NULL,
    app_id            VARCHAR,
    resource_class    VARCHAR NOT NULL,
    quantity          DECIMAL(18, 4) NOT NULL,
    est_monthly_cost  DECIMAL(18, 2) NOT NULL,
    justification     VARCHAR NOT NULL,
    state             VARCHAR NOT NULL CHECK (state IN ('approved', 'pending', 'rejected')),
    approver_level    VARCHAR,                 -- none (automatic), cost_center_owner, finops, finance
    approver          VARCHAR,                 -- the named approver (a username) or the role that approves
    decision          JSON NOT NULL,           -- the check as it was made: quota, budget, reasons, policy
    decided_by        VARCHAR,
    decided_at        TIMESTAMP,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);
