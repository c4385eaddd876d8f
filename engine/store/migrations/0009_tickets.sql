-- Tickets for anomalies and remediation tasks (issue 13, engine/outputs/tickets/): additive only.

-- Where tickets go. The token is never stored: token_env names the environment variable read at send time.
CREATE TABLE ticket_target (
    name             VARCHAR PRIMARY KEY,
    kind             VARCHAR NOT NULL CHECK (kind IN ('jira', 'servicenow', 'webhook')),
    base_url         VARCHAR NOT NULL,
    token_env        VARCHAR NOT NULL,
    project_key      VARCHAR,              -- jira: the project the issue is created in
    issue_type       VARCHAR,              -- jira: issue type name (Task when NULL)
    assignment_group VARCHAR,              -- servicenow: assignment_group of the incident
    cost_center_id   VARCHAR,              -- scope: tickets for this cost centre only; NULL = every cost centre
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    created_by       VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

-- One row per (target, subject): written as pending before anything is sent; the idempotency key is the row's id.
CREATE TABLE ticket (
    ticket_id        VARCHAR PRIMARY KEY,  -- the idempotency key, derived from (target, subject_kind, subject_id)
    target_name      VARCHAR NOT NULL,
    subject_kind     VARCHAR NOT NULL,     -- anomaly, asset.no_owner, asset.retired_owner, resource.untagged
    subject_id       VARCHAR NOT NULL,
    cost_center_id   VARCHAR,
    title            VARCHAR NOT NULL,
    body             VARCHAR NOT NULL,
    link             VARCHAR,              -- back into Apportion
    status           VARCHAR NOT NULL CHECK (status IN ('pending', 'open', 'failed')),
    reference        VARCHAR,              -- PROJ-12, INC0010001, the webhook's id
    remote_id        VARCHAR,              -- jira issue id, servicenow sys_id
    url              VARCHAR,              -- the ticket for a person (jira browse link, incident form)
    api_url          VARCHAR,              -- the ticket for a program (jira self)
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       VARCHAR,
    claimed_until    TIMESTAMP,            -- a sender holds the row until then (UTC); NULL = free
    created_by       VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    opened_at        TIMESTAMP,
    UNIQUE (target_name, subject_kind, subject_id)
);
