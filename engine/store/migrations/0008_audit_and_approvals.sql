-- The audit trail sealed with a key that never lives in the store, and maker-checker on rule versions.
-- Additive only: no existing event is rewritten or re-sealed (that would launder earlier tampering). Events written
-- before the key existed keep their unkeyed SHA-256 hashes; the first keyed event opens epoch 1 below, whose MAC
-- commits to the last unkeyed hash and to how many unkeyed events there were (engine/store/audit.py).

-- One row per key era: epoch 1 is "the key was introduced", every later one a key rotation. A row is MACed with its
-- own key and, from epoch 2 on, also with the previous key, so nobody without the old key can start a new era.
CREATE TABLE audit_checkpoint (
    epoch           INTEGER PRIMARY KEY,
    first_seq       BIGINT NOT NULL,           -- the first event sealed with this key
    prev_hash       VARCHAR NOT NULL,          -- the hash that event chains from (last event of the era before)
    prev_count      BIGINT NOT NULL,           -- how many events the era before holds
    key_id          VARCHAR NOT NULL,          -- HMAC(key, fixed label), never the key itself
    store_path      VARCHAR,                   -- where the store was when the era began: its head file lives there
    created_at      TIMESTAMP NOT NULL,
    mac             VARCHAR NOT NULL,
    prev_key_mac    VARCHAR
);

-- A second MAC per event over its content without event_at, so a changed timestamp is told apart from a changed
-- event. NULL on the unkeyed events written before this migration.
ALTER TABLE audit_event ADD COLUMN body_mac VARCHAR;

-- One row that every append updates first: two concurrent appends conflict instead of both chaining from the same
-- event (a fork that verification would report). Only a lock, never evidence: verification does not read it.
CREATE TABLE audit_append_lock (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    appends         BIGINT NOT NULL DEFAULT 0,
    appended_at     TIMESTAMP
);
INSERT INTO audit_append_lock (id) VALUES (1);

-- Everyone other than the author who changed a draft's body: none of them may approve or reject it.
ALTER TABLE rule_set ADD COLUMN editors VARCHAR[];
