-- The organisation's tag standard (required keys, allowed values per key), versioned: every save is a new row and
-- an audit event, the newest row is in force, no row is ever updated (engine/tag_standard.py).
-- Replaces 0002's unversioned, never-written `tag_standard` (name, body): no code ever read or wrote it.
DROP TABLE IF EXISTS tag_standard;
CREATE TABLE tag_standard (
    version     INTEGER PRIMARY KEY,
    body        JSON NOT NULL,                 -- TagStandard.to_json(): {"required": [...], "allowed": {...}}
    saved_by    VARCHAR NOT NULL,
    saved_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    note        VARCHAR
);
