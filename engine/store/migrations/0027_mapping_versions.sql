-- Versioned column mappings (docs/ingestion.md, "Column mappings"): every save that changes a profile appends a
-- version (who, when, why); the newest one is in force and is also kept in mapping_profile (0005) for readers of
-- the profile in force. A delete appends a tombstone (deleted = true, body of the last version), so the history of
-- a deleted profile stays readable and a later save of the same name continues its numbering.
CREATE TABLE mapping_profile_version (
    name            VARCHAR NOT NULL,
    version         INTEGER NOT NULL,
    target_table    VARCHAR NOT NULL,
    body            JSON NOT NULL,
    saved_by        VARCHAR NOT NULL,
    saved_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    comment         VARCHAR NOT NULL DEFAULT '',
    deleted         BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (name, version)
);

-- profiles saved before versioning become their version 1
INSERT INTO mapping_profile_version (name, version, target_table, body, saved_by, saved_at, comment)
SELECT name, 1, target_table, body, coalesce(created_by, 'unknown'), updated_at, 'saved before versioning (0027)'
FROM mapping_profile;
