"""Grants beyond a role's defaults. Today one: `resource_lines` — executives see aggregates (business unit, cost
centre, application, service), not resource-level lines, unless an admin grants them that. Every other role sees
the resource lines of its scope. The engine's resource-level reads call `require_resource_lines`; pages only
decide what to offer.
"""

from __future__ import annotations

import duckdb

from engine.access import policy
from engine.access.users import User
from engine.errors import AccessDenied, InputError, NotFound
from engine.store import audit, transaction

RESOURCE_LINES = "resource_lines"
GRANTS = (RESOURCE_LINES,)
AGGREGATE_ONLY = ("executive",)   # roles that need the grant to see resource lines


def has(con: duckdb.DuckDBPyConnection, user: User | None, grant_name: str) -> bool:
    if user is None:
        return False
    return bool(con.execute("SELECT count(*) FROM user_grant WHERE username = ? AND grant_name = ?",
                            [user.username, grant_name]).fetchall()[0][0])


def can_see_resource_lines(con: duckdb.DuckDBPyConnection, user: User | None) -> bool:
    if user is None:
        return False
    return user.role not in AGGREGATE_ONLY or has(con, user, RESOURCE_LINES)


def require_resource_lines(con: duckdb.DuckDBPyConnection, user: User | None) -> None:
    if not can_see_resource_lines(con, user):
        who = user.username if user is not None else "nobody"
        raise AccessDenied(f"{who} sees aggregates, not resource lines: an admin can grant resource lines")


def set_grant(con: duckdb.DuckDBPyConnection, actor: User | None, username: str, grant_name: str,
              on: bool) -> None:
    policy.require(actor, "manage_users", f"change the grants of {username!r}")
    assert actor is not None
    if grant_name not in GRANTS:
        raise InputError(f"unknown grant {grant_name!r}; known: {', '.join(GRANTS)}")
    if not con.execute("SELECT 1 FROM app_user WHERE username = ?", [username]).fetchall():
        raise NotFound(f"no user {username!r}")
    with transaction(con):
        con.execute("DELETE FROM user_grant WHERE username = ? AND grant_name = ?", [username, grant_name])
        if on:
            con.execute("INSERT INTO user_grant (username, grant_name, granted_by) VALUES (?, ?, ?)",
                        [username, grant_name, actor.username])
        audit.record(con, actor.username, "user.grant" if on else "user.revoke_grant", "user", username,
                     {"grant": grant_name})
