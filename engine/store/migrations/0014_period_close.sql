-- A month's close: submitted with the run it posts, approved by someone else (maker-checker), then locked.
-- Re-opening needs an admin and a reason; every transition is in the audit trail.
CREATE TABLE period_close (
    period          VARCHAR PRIMARY KEY,
    state           VARCHAR NOT NULL CHECK (state IN ('open', 'submitted', 'locked')),
    run_key         VARCHAR,
    submitted_by    VARCHAR,
    submitted_at    TIMESTAMP,
    approved_by     VARCHAR,
    approved_at     TIMESTAMP,
    note            VARCHAR,                 -- the submitter's note, a rejection's or a re-opening's reason
    changed_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
