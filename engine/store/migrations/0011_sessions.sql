-- Server-side sign-in sessions (engine/access/sessions.py). The browser's cookie carries a random session id signed
-- with the cookie key; the store keeps only the SHA-256 of that id, so whoever reads this file cannot use a session.
CREATE TABLE app_session (
    session_hash   VARCHAR PRIMARY KEY,   -- sha256 hex of the session id, never the id itself
    username       VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,    -- UTC
    last_seen      TIMESTAMP NOT NULL,    -- UTC, written at most about once a minute (the idle timeout reads it)
    expires_at     TIMESTAMP NOT NULL,    -- UTC, the absolute end whatever the activity
    revoked_at     TIMESTAMP,             -- set by logout, an admin disable, the idle timeout or expiry
    revoked_reason VARCHAR
);

CREATE INDEX app_session_user ON app_session (username);

-- Consecutive failed sign-ins per entered username (known or not, so the lockout tells nobody which names exist).
CREATE TABLE login_guard (
    username        VARCHAR PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_failure_at TIMESTAMP,
    locked_until    TIMESTAMP
);

-- A disabled user can neither sign in nor keep a session; disabling revokes every session of the user.
ALTER TABLE app_user ADD COLUMN disabled_at TIMESTAMP
