-- Detector thresholds per scope, versioned: each change writes a new version holding the whole set in force.
CREATE TABLE anomaly_threshold_version (
    version         INTEGER PRIMARY KEY,
    set_by          VARCHAR NOT NULL,
    reason          VARCHAR NOT NULL,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);

CREATE TABLE anomaly_threshold (
    version         INTEGER NOT NULL,
    scope_kind      VARCHAR NOT NULL,          -- cost_center, application, service, account, resource, or '*'
    scope_id        VARCHAR NOT NULL,          -- an id, or '*' for every scope of the kind
    k               DOUBLE NOT NULL,
    floor           DOUBLE NOT NULL,
    fallback_change DOUBLE NOT NULL,
    month_change    DOUBLE NOT NULL,
    PRIMARY KEY (version, scope_kind, scope_id)
);
