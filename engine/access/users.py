"""Users, roles and what each may see. The role and scope always come from the store, never from the browser."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

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
    rows = con.execute("SELECT display_name, role FROM app_user WHERE username = ?", [username]).fetchall()
    if not rows:
        return None
    display_name, role = rows[0]
    scope: frozenset[str] | None = None
    if role == "app_owner":
        ccs = con.execute("SELECT cost_center_id FROM user_scope WHERE username = ?", [username]).fetchall()
        scope = frozenset(r[0] for r in ccs)
    return User(username, display_name, role, scope)


def credentials(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, dict[str, object]]]:
    """The credentials dict streamlit-authenticator expects, with pre-hashed passwords (auto_hash=False)."""
    users: dict[str, dict[str, object]] = {}
    for username, display_name, email, role, pw_hash in con.execute(
        "SELECT username, display_name, email, role, password_hash FROM app_user ORDER BY username"
    ).fetchall():
        first, _, last = display_name.partition(" ")
        users[username] = {
            "email": email or f"{username}@example.invalid",
            "first_name": first,
            "last_name": last,
            "password": pw_hash,
            "roles": [role],
        }
    return {"usernames": users}


def has_demo_data(con: duckdb.DuckDBPyConnection) -> bool:
    """True while the demo organisation is loaded: the login screen may then show the demo logins."""
    return bool(con.execute("SELECT count(*) FROM ingest_batch WHERE source_kind = 'demo'").fetchall()[0][0])
