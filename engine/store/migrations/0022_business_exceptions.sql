-- Business exceptions (a project spike, an acquisition, a migration): scope, owner, reason, treatment, approval and
-- expiry. Approved ones that change allocation are applied through the pooled-exception table (exception), so the
-- base rules are never edited; every exception expires.
CREATE SEQUENCE business_exception_no START 1;

CREATE TABLE business_exception (
    exception_no    INTEGER PRIMARY KEY DEFAULT nextval('business_exception_no'),
    kind            VARCHAR NOT NULL CHECK (kind IN ('project_spike', 'acquisition', 'migration', 'other')),
    match_field     VARCHAR NOT NULL,
    match_value     VARCHAR NOT NULL,
    owner           VARCHAR NOT NULL,
    reason          VARCHAR NOT NULL,
    treatment       VARCHAR NOT NULL CHECK (treatment IN ('exclude_from_anomalies', 'hold_centrally',
                                                          'temporary_driver')),
    detail          JSON NOT NULL,              -- hold_centrally: {"cost_center": …}; temporary_driver: {"driver": …}
    valid_from      VARCHAR NOT NULL,
    valid_to        VARCHAR NOT NULL,
    state           VARCHAR NOT NULL CHECK (state IN ('requested', 'approved', 'rejected', 'withdrawn')),
    requested_by    VARCHAR NOT NULL,
    decided_by      VARCHAR,
    decision_note   VARCHAR,
    decided_at      TIMESTAMP,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
