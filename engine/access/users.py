"""Users, roles and what each may see. The role and scope always come from the store, never from the browser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from engine.errors import InputError, NotFound

ROLES = ("admin", "finops", "executive", "app_owner", "auditor")


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: str
    cost_centers: frozenset[str] | None  # None: sees every cost centre; app owners get their own set

    @property
    def scoped(self) -> bool:
        return self.cost_centers is not None


def get_user(con: duckdb.DuckDBPyConnection, username: str) -> User | None:
    """The user, or None when unknown or disabled: a disabled user is nobody to every check that reads users."""
    rows = con.execute("SELECT display_name, role FROM app_user WHERE username = ? AND disabled_at IS NULL",
                       [username]).fetchall()
    if not rows:
        return None
    display_name, role = rows[0]
    scope: frozenset[str] | None = None
    if role == "app_owner":
        ccs = con.execute("SELECT cost_center_id FROM user_scope WHERE username = ?", [username]).fetchall()
        scope = frozenset(r[0] for r in ccs)
    return User(username, display_name, role, scope)


def has_demo_data(con: duckdb.DuckDBPyConnection) -> bool:
    """True while the demo organisation is loaded: the login screen may then show the demo logins."""
    return bool(con.execute("SELECT count(*) FROM ingest_batch WHERE source_kind = 'demo'").fetchall()[0][0])


def disable_user(con: duckdb.DuckDBPyConnection, username: str, actor: User | None, *, reason: str = "",
                 now: datetime | None = None) -> int:
    """Disable a user (admins only) and revoke every session of theirs, wherever its cookie is; audited.

    Returns how many sessions were live. Disabling an already disabled user revokes again and changes nothing else."""
    from engine.access import policy, sessions
    from engine.store import audit, transaction

    policy.require(actor, "manage_users", f"disable {username}")
    assert actor is not None
    name = sessions.normalise_username(username)
    if name == sessions.normalise_username(actor.username):
        raise InputError("you cannot disable yourself: another admin must")
    at = now if now is not None else audit.now()
    with transaction(con):
        if not con.execute("SELECT 1 FROM app_user WHERE username = ?", [name]).fetchall():
            raise NotFound(f"no user {name!r}")
        con.execute("UPDATE app_user SET disabled_at = coalesce(disabled_at, ?) WHERE username = ?", [at, name])
        audit.record(con, actor.username, "user.disable", "user", name, {"reason": reason})
        return sessions.revoke_all_in_transaction(con, name, actor=actor.username, reason="user disabled", now=at)


def enable_user(con: duckdb.DuckDBPyConnection, username: str, actor: User | None) -> None:
    """Let a disabled user sign in again (admins only); their old sessions stay revoked. Audited."""
    from engine.access import policy, sessions
    from engine.store import audit, transaction

    policy.require(actor, "manage_users", f"enable {username}")
    assert actor is not None
    name = sessions.normalise_username(username)
    with transaction(con):
        if not con.execute("SELECT 1 FROM app_user WHERE username = ?", [name]).fetchall():
            raise NotFound(f"no user {name!r}")
        con.execute("UPDATE app_user SET disabled_at = NULL WHERE username = ?", [name])
        audit.record(con, actor.username, "user.enable", "user", name, {})
