-- Live sources (docs/sources.md): a source is configuration (kind, endpoint or folder, the NAME of the variable that
-- holds its credential, schedule, freshness target); its state is the API's own cursor after the last success.
-- No credential is ever stored here.
CREATE TABLE source (
    name                     VARCHAR PRIMARY KEY,
    kind                     VARCHAR NOT NULL,     -- snipeit, jamf, servicenow, opencost (poll); folder
    mode                     VARCHAR NOT NULL,     -- poll | folder
    endpoint                 VARCHAR NOT NULL,     -- base URL (poll) or folder path (folder)
    secret_env               VARCHAR,              -- environment variable / secrets.toml key holding the token
    interval_minutes         INTEGER NOT NULL,
    freshness_target_minutes INTEGER NOT NULL,
    options                  VARCHAR NOT NULL DEFAULT '{}',   -- JSON: page_size, table, pattern, ...
    paused                   BOOLEAN NOT NULL DEFAULT FALSE,
    created_by               VARCHAR NOT NULL,
    created_at               TIMESTAMP NOT NULL DEFAULT current_timestamp,
    cursor                   VARCHAR,              -- the API's cursor (timestamp) after the last success
    last_success_at          TIMESTAMP,
    last_attempt_at          TIMESTAMP,
    last_error               VARCHAR
);

CREATE TABLE source_run (
    run_id           VARCHAR NOT NULL,
    source_name      VARCHAR NOT NULL,
    trigger          VARCHAR NOT NULL,             -- manual | schedule | cli
    run_by           VARCHAR NOT NULL,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP NOT NULL,
    status           VARCHAR NOT NULL,             -- loaded | nothing_new | failed
    calls            INTEGER NOT NULL DEFAULT 0,   -- HTTP requests made (retries included)
    retries          INTEGER NOT NULL DEFAULT 0,
    rows_fetched     INTEGER NOT NULL DEFAULT 0,
    rows_loaded      INTEGER NOT NULL DEFAULT 0,
    rows_quarantined INTEGER NOT NULL DEFAULT 0,
    batch_ids        VARCHAR,
    cursor_before    VARCHAR,
    cursor_after     VARCHAR,
    message          VARCHAR
);

-- What a drop-folder source has seen: a file loads once its size and mtime hold still (docs/sources.md).
CREATE TABLE source_file (
    source_name  VARCHAR NOT NULL,
    file_name    VARCHAR NOT NULL,
    size         BIGINT NOT NULL,
    mtime_ns     BIGINT NOT NULL,
    seen_at      TIMESTAMP NOT NULL,
    status       VARCHAR NOT NULL,                 -- pending | loaded | duplicate | refused
    batch_id     VARCHAR,
    message      VARCHAR
);

-- Inventory changes a poll brought in (engine/reconcile/matching.lifecycle_events over the rows it replaced).
CREATE TABLE asset_lifecycle_event (
    run_id       VARCHAR NOT NULL,
    source_name  VARCHAR NOT NULL,
    batch_id     VARCHAR NOT NULL,
    asset_id     VARCHAR,
    event        VARCHAR NOT NULL,                 -- new | reassigned | upgraded | decommissioned
    field        VARCHAR,
    before_value VARCHAR,
    after_value  VARCHAR,
    recorded_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
