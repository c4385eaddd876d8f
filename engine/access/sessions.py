"""Sign-in sessions that end: a server-side record per sign-in, checked on every script run, and the lockout.

The browser holds a cookie with a random session id (signed with the cookie key, see `cookie_value`); the store holds
only the SHA-256 of that id (`app_session`). A request counts as signed in only while its session record is live:

- **unknown** — no record: a cookie minted with the cookie key, or one from another store, signs nobody in;
- **revoked** — logout (`revoke`), an admin disabling the user (`revoke_all_for_user`), or a session already ended;
- **expired** — past `expires_at` (setting `cookie_expiry_days`), however active;
- **idle** — no activity for `session_idle_minutes`; `validate` writes `last_seen` at most once a `touch_every`,
  so a signed-in page view costs one indexed read and, about once a minute, one small update;
- **disabled** — the user was disabled or removed since the session opened.

Lockout (`sign_in`): `login_max_failures` consecutive failures for one entered username lock it for
`login_lockout_minutes`. The lock is checked before the password: a locked name refuses even the right one. A
success resets the count, and so does the end of the lock. Unknown names are counted and locked like real ones and
cost the same bcrypt check, so neither the message nor the timing tells which usernames exist.

Every event is audited through `engine.store.audit` (actions `session.*`), never the password or the session id: the
session is named by the first 16 hex digits of its hash. Times are naive UTC, like the rest of the store; every
function takes `now` so tests inject a clock.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import bcrypt
import duckdb
import jwt

from engine.errors import AccessDenied
from engine.store import audit, transaction

Status = Literal["live", "unknown", "revoked", "expired", "idle", "disabled"]

WRONG_CREDENTIALS = "Username or password is incorrect."
DISABLED = "This account is disabled; ask an administrator."
MAX_USERNAME = 64
MAX_COOKIE = 2048
# A bcrypt hash of a random string nobody knows (cost 12, like the real ones): an unknown username costs the same check.
_DUMMY_HASH = b"$2b$12$DofTuGZR5hdKTyOsjG44/O/EGh4yML3kHPbulA6lU0Nc0HCRqXRna"
_COOKIE_ALG = "HS256"


@dataclass(frozen=True)
class SessionRules:
    """The limits a session lives by; `from_settings` reads them from engine/settings.py."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)

    @classmethod
    def from_settings(cls) -> SessionRules:
        from engine.settings import get_settings

        s = get_settings()
        return cls(max_failures=s.login_max_failures, lockout=timedelta(minutes=s.login_lockout_minutes),
                   idle=timedelta(minutes=s.session_idle_minutes), lifetime=timedelta(days=s.cookie_expiry_days))


@dataclass(frozen=True)
class Session:
    """A session just opened. `session_id` is the secret the cookie carries; the store never holds it."""

    session_id: str
    username: str
    created_at: datetime
    expires_at: datetime

    @property
    def ref(self) -> str:
        return session_ref(self.session_id)


@dataclass(frozen=True)
class Check:
    """The verdict on a session id: `username` is set only while the session is live."""

    status: Status
    username: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "live"


def _now(now: datetime | None) -> datetime:
    if now is None:
        return audit.now()
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _rules(rules: SessionRules | None) -> SessionRules:
    return rules if rules is not None else SessionRules.from_settings()


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_ref(session_id: str) -> str:
    """The public name of a session in the audit trail (a prefix of its hash, never the id)."""
    return session_hash(session_id)[:16]


def normalise_username(username: str) -> str:
    return username.strip().lower()


# ------------------------------------------------------------------------------------------------------ cookie

def cookie_value(session: Session, key: str) -> str:
    """What the login cookie holds: the session id and its expiry, signed (HS256) with the cookie key."""
    exp = int(session.expires_at.replace(tzinfo=UTC).timestamp())
    return jwt.encode({"sid": session.session_id, "exp": exp}, key, algorithm=_COOKIE_ALG)


def session_id_from_cookie(value: object, key: str) -> str | None:
    """The session id a cookie carries, or None for anything else: a bad signature, another algorithm (`none`
    included), no or past `exp`, no `sid`, a token of the old cookie format ({username, exp_date}), or garbage.
    A cookie that passes still signs nobody in until `validate` finds its live session record."""
    if not isinstance(value, str) or not value or len(value) > MAX_COOKIE:
        return None
    try:
        claims: dict[str, Any] = jwt.decode(value, key, algorithms=[_COOKIE_ALG],
                                            options={"require": ["exp", "sid"]})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    sid = claims.get("sid")
    return sid if isinstance(sid, str) and 0 < len(sid) <= 128 else None


# ------------------------------------------------------------------------------------------------ the sessions

def open_session(con: duckdb.DuckDBPyConnection, username: str, *, rules: SessionRules | None = None,
                 now: datetime | None = None) -> Session:
    """Open a session for a user whose password was just verified (`sign_in` is the way in); audited."""
    with transaction(con):
        return _open(con, normalise_username(username), _rules(rules), _now(now))


def _open(con: duckdb.DuckDBPyConnection, username: str, rules: SessionRules, now: datetime) -> Session:
    session = Session(secrets.token_urlsafe(32), username, now, now + rules.lifetime)
    con.execute(
        "INSERT INTO app_session (session_hash, username, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?)",
        [session_hash(session.session_id), username, now, now, session.expires_at])
    audit.record(con, username, "session.login", "session", session.ref,
                 {"expires_at": session.expires_at.isoformat(timespec="seconds")})
    return session


def validate(con: duckdb.DuckDBPyConnection, session_id: str | None, *, rules: SessionRules | None = None,
             now: datetime | None = None) -> Check:
    """Is this session live? Ends (and audits) a session found expired, idle or belonging to a disabled user;
    refreshes `last_seen` at most once per `touch_every`."""
    if not session_id:
        return Check("unknown")
    at = _now(now)
    h = session_hash(session_id)
    rows = con.execute(
        "SELECT s.username, s.last_seen, s.expires_at, s.revoked_at, u.username IS NULL, u.disabled_at "
        "FROM app_session s LEFT JOIN app_user u ON u.username = s.username WHERE s.session_hash = ?", [h]
    ).fetchall()
    if not rows:
        return Check("unknown")
    username, last_seen, expires_at, revoked_at, user_gone, disabled_at = rows[0]
    if revoked_at is not None:
        return Check("revoked")
    r = _rules(rules)
    ended: tuple[Status, str] | None = None
    if user_gone or disabled_at is not None:
        ended = ("disabled", "user disabled")
    elif at >= expires_at:
        ended = ("expired", "expired")
    elif at - last_seen > r.idle:
        ended = ("idle", "idle timeout")
    if ended is not None:
        with transaction(con):
            if _end(con, h, at, ended[1]):
                audit.record(con, username, f"session.{'revoked' if ended[0] == 'disabled' else ended[0]}",
                             "session", h[:16], _ended_detail(ended[1], last_seen, expires_at))
        return Check(ended[0])
    if at - last_seen >= r.touch_every:
        try:
            con.execute("UPDATE app_session SET last_seen = ? WHERE session_hash = ? AND last_seen < ?",
                        [at, h, at])
        except duckdb.TransactionException:
            pass  # a concurrent run of the same session wrote it first: either time keeps the session alive
    return Check("live", username)


def _ended_detail(reason: str, last_seen: datetime, expires_at: datetime) -> dict[str, Any]:
    return {"reason": reason, "last_seen": last_seen.isoformat(timespec="seconds"),
            "expires_at": expires_at.isoformat(timespec="seconds")}


def _end(con: duckdb.DuckDBPyConnection, h: str, at: datetime, reason: str) -> bool:
    n = con.execute("UPDATE app_session SET revoked_at = ?, revoked_reason = ? "
                    "WHERE session_hash = ? AND revoked_at IS NULL", [at, reason, h]).fetchall()
    return bool(n and n[0][0])


def revoke(con: duckdb.DuckDBPyConnection, session_id: str, *, reason: str = "logout",
           now: datetime | None = None) -> bool:
    """End one session (logout); audited as `session.logout` by its user. False when it was not live."""
    at = _now(now)
    h = session_hash(session_id)
    with transaction(con):
        rows = con.execute("SELECT username FROM app_session WHERE session_hash = ? AND revoked_at IS NULL",
                           [h]).fetchall()
        if not rows or not _end(con, h, at, reason):
            return False
        audit.record(con, rows[0][0], "session.logout", "session", h[:16], {"reason": reason})
    return True


def revoke_all_in_transaction(con: duckdb.DuckDBPyConnection, username: str, *, actor: str, reason: str,
                              now: datetime | None = None) -> int:
    """`revoke_all_for_user` for a caller that already holds a transaction (e.g. `users.disable_user`)."""
    at = _now(now)
    name = normalise_username(username)
    n = con.execute("UPDATE app_session SET revoked_at = ?, revoked_reason = ? "
                    "WHERE username = ? AND revoked_at IS NULL", [at, reason, name]).fetchall()
    count = int(n[0][0]) if n else 0
    audit.record(con, actor, "session.revoked", "user", name, {"reason": reason, "sessions": count})
    return count


def revoke_all_for_user(con: duckdb.DuckDBPyConnection, username: str, *, actor: str, reason: str,
                        now: datetime | None = None) -> int:
    """End every live session of a user, wherever its cookie is; audited. Returns how many were live."""
    with transaction(con):
        return revoke_all_in_transaction(con, username, actor=actor, reason=reason, now=now)


def live_sessions(con: duckdb.DuckDBPyConnection, username: str) -> int:
    """How many sessions of a user are open (not revoked; expiry and idleness are settled by `validate`)."""
    return int(con.execute("SELECT count(*) FROM app_session WHERE username = ? AND revoked_at IS NULL",
                           [normalise_username(username)]).fetchall()[0][0])


# --------------------------------------------------------------------------------------------- sign-in, lockout

def locked_until(con: duckdb.DuckDBPyConnection, username: str, *, now: datetime | None = None) -> datetime | None:
    """When a lock on this username ends, or None when it is not locked."""
    rows = con.execute("SELECT locked_until FROM login_guard WHERE username = ?",
                       [normalise_username(username)]).fetchall()
    until = rows[0][0] if rows else None
    return until if until is not None and until > _now(now) else None


def lockout_message(until: datetime) -> str:
    """"… try again after HH:MM UTC", the minute rounded up so that the time named is never too early."""
    shown = until.replace(second=0, microsecond=0)
    if shown < until:
        shown += timedelta(minutes=1)
    return f"Too many failed sign-ins; try again after {shown:%H:%M} UTC."


def _password_matches(password: str, stored: str | None) -> bool:
    try:
        ok = bcrypt.checkpw(password.encode(), (stored or "").encode() or _DUMMY_HASH)
    except ValueError:  # not a bcrypt hash (a hand-made user row): nothing verifies against it
        bcrypt.checkpw(password.encode(), _DUMMY_HASH)
        return False
    return bool(ok) and stored is not None


def sign_in(con: duckdb.DuckDBPyConnection, username: str, password: str, *, rules: SessionRules | None = None,
            now: datetime | None = None) -> Session:
    """Check the lock, then the password, then open a session. Raises AccessDenied with the message to show:
    wrong credentials (unknown names alike), the lockout with its release time, or a disabled account."""
    r = _rules(rules)
    at = _now(now)
    name = normalise_username(username)
    if not name or not password or len(name) > MAX_USERNAME or len(password) > 1024:
        raise AccessDenied(WRONG_CREDENTIALS)
    until = locked_until(con, name, now=at)
    if until is not None:  # before any password check: a locked name refuses the right password too
        with transaction(con):
            audit.record(con, name, "session.login_failed", "user", name,
                         {"reason": "locked", "locked_until": until.isoformat(timespec="seconds")})
        raise AccessDenied(lockout_message(until))
    rows = con.execute("SELECT password_hash, disabled_at FROM app_user WHERE username = ?", [name]).fetchall()
    stored, disabled_at = (rows[0][0], rows[0][1]) if rows else (None, None)
    ok = _password_matches(password, stored)  # outside the transaction: bcrypt takes a few hundred ms
    with transaction(con):
        until = locked_until(con, name, now=at)  # a parallel attempt may have locked it meanwhile
        if until is not None:
            audit.record(con, name, "session.login_failed", "user", name,
                         {"reason": "locked", "locked_until": until.isoformat(timespec="seconds")})
        elif ok and disabled_at is not None:
            audit.record(con, name, "session.login_failed", "user", name, {"reason": "disabled"})
        elif ok:
            con.execute("DELETE FROM login_guard WHERE username = ?", [name])
            return _open(con, name, r, at)
        else:
            until = _count_failure(con, name, r, at, known=bool(rows))
    if until is not None:
        raise AccessDenied(lockout_message(until))
    raise AccessDenied(DISABLED if ok else WRONG_CREDENTIALS)


def _count_failure(con: duckdb.DuckDBPyConnection, name: str, r: SessionRules, at: datetime, *,
                   known: bool) -> datetime | None:
    """Add one failure (a lock that has run out starts the count again); lock at the limit. Returns the lock."""
    rows = con.execute("SELECT failures, locked_until FROM login_guard WHERE username = ?", [name]).fetchall()
    failures = 0 if not rows or rows[0][1] is not None else int(rows[0][0])
    failures += 1
    until = at + r.lockout if failures >= r.max_failures else None
    con.execute("INSERT INTO login_guard (username, failures, last_failure_at, locked_until) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (username) DO UPDATE SET failures = excluded.failures, "
                "last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
                [name, failures, at, until])
    audit.record(con, name, "session.login_failed", "user", name,
                 {"reason": "wrong password" if known else "unknown user", "failures": failures})
    if until is not None:
        audit.record(con, name, "session.locked", "user", name,
                     {"failures": failures, "locked_until": until.isoformat(timespec="seconds"),
                      "minutes": math.ceil(r.lockout.total_seconds() / 60)})
    return until
