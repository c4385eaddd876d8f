"""Managing users (admins only): add, scope, reset a password, list — every change audited. Disabling and enabling
live in engine/access/users.py beside the session revocation they trigger.

Scope is cost-centre grained (`user_scope`): an app owner scoped to applications gets those applications' cost
centres, resolved when the scope is saved (the audit event names both). Passwords are stored as bcrypt hashes only;
a reset revokes the user's sessions and clears a lockout.
"""

from __future__ import annotations

from collections.abc import Sequence

import bcrypt
import duckdb
import polars as pl

from engine.access import policy, sessions
from engine.access.users import ROLES, User
from engine.errors import InputError, NotFound
from engine.store import audit, transaction
from engine.store.sql import query

MIN_PASSWORD = 12
BCRYPT_COST = 12


def _hash(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()


def _resolve_scope(con: duckdb.DuckDBPyConnection, cost_centers: Sequence[str],
                   applications: Sequence[str]) -> list[str]:
    known = {r[0] for r in con.execute("SELECT unit_id FROM org_unit WHERE kind = 'cost_center'").fetchall()}
    bad = sorted(set(cost_centers) - known)
    if bad:
        raise InputError(f"not cost centres: {', '.join(bad)}")
    apps = dict(con.execute("SELECT app_id, cost_center_id FROM application").fetchall())
    unknown = sorted(set(applications) - set(apps))
    if unknown:
        raise InputError(f"not applications: {', '.join(unknown)}")
    return sorted(set(cost_centers) | {apps[a] for a in applications})


def add_user(con: duckdb.DuckDBPyConnection, actor: User | None, username: str, display_name: str, role: str,
             password: str, *, email: str | None = None, cost_centers: Sequence[str] = (),
             applications: Sequence[str] = ()) -> None:
    policy.require(actor, "manage_users", f"add the user {username!r}")
    assert actor is not None
    name = sessions.normalise_username(username)
    if not name or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise InputError(f"a username is letters, digits, '.', '-' or '_', not {username!r}")
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not display_name.strip():
        raise InputError("give the user a display name")
    scope = _resolve_scope(con, cost_centers, applications)
    if role == "app_owner" and not scope:
        raise InputError("an app owner needs a scope: at least one cost centre or application")
    if role != "app_owner" and scope:
        raise InputError(f"only app owners are scoped; a {role} sees every cost centre")
    hashed = _hash(password)
    with transaction(con):
        if con.execute("SELECT 1 FROM app_user WHERE username = ?", [name]).fetchall():
            raise InputError(f"the user {name!r} already exists")
        con.execute("INSERT INTO app_user (username, display_name, email, role, password_hash) VALUES (?, ?, ?, ?, ?)",
                    [name, display_name.strip(), email, role, hashed])
        for cc in scope:
            con.execute("INSERT INTO user_scope VALUES (?, ?)", [name, cc])
        audit.record(con, actor.username, "user.add", "user", name, {
            "role": role, "display_name": display_name.strip(), "cost_centers": scope,
            "applications": sorted(applications)})


def set_scope(con: duckdb.DuckDBPyConnection, actor: User | None, username: str, cost_centers: Sequence[str],
              applications: Sequence[str] = ()) -> list[str]:
    """Replace an app owner's scope; returns the cost centres now in it."""
    policy.require(actor, "manage_users", f"change the scope of {username!r}")
    assert actor is not None
    row = con.execute("SELECT role FROM app_user WHERE username = ?", [username]).fetchall()
    if not row:
        raise NotFound(f"no user {username!r}")
    if row[0][0] != "app_owner":
        raise InputError(f"{username} is a {row[0][0]}: only app owners are scoped")
    scope = _resolve_scope(con, cost_centers, applications)
    if not scope:
        raise InputError("an app owner needs a scope: at least one cost centre or application")
    before = sorted(r[0] for r in con.execute("SELECT cost_center_id FROM user_scope WHERE username = ?",
                                              [username]).fetchall())
    with transaction(con):
        con.execute("DELETE FROM user_scope WHERE username = ?", [username])
        for cc in scope:
            con.execute("INSERT INTO user_scope VALUES (?, ?)", [username, cc])
        audit.record(con, actor.username, "user.scope", "user", username,
                     {"before": before, "after": scope, "applications": sorted(applications)})
    return scope


def reset_password(con: duckdb.DuckDBPyConnection, actor: User | None, username: str, new_password: str) -> int:
    """A new password; the user's sessions end and a lockout is cleared. Returns the sessions revoked."""
    policy.require(actor, "manage_users", f"reset the password of {username!r}")
    assert actor is not None
    hashed = _hash(new_password)
    with transaction(con):
        if not con.execute("SELECT 1 FROM app_user WHERE username = ?", [username]).fetchall():
            raise NotFound(f"no user {username!r}")
        con.execute("UPDATE app_user SET password_hash = ? WHERE username = ?", [hashed, username])
        con.execute("DELETE FROM login_guard WHERE username = ?", [username])
        audit.record(con, actor.username, "user.reset_password", "user", username, {})
        return sessions.revoke_all_in_transaction(con, username, actor=actor.username, reason="password reset",
                                                  now=audit.now())


def list_users(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(con, """
        SELECT u.username, u.display_name, u.role, u.email, u.disabled_at IS NOT NULL AS disabled,
               string_agg(s.cost_center_id, ', ' ORDER BY s.cost_center_id) AS scope,
               g.locked_until
        FROM app_user u LEFT JOIN user_scope s USING (username) LEFT JOIN login_guard g USING (username)
        GROUP BY ALL ORDER BY u.username""")
