"""Admins add, scope and reset users; every change is audited; the engine refuses everyone else."""

from __future__ import annotations

import bcrypt
import duckdb
import pytest

from engine.access import sessions, user_admin, users
from engine.access.users import get_user
from engine.errors import AccessDenied, InputError


def _u(con: duckdb.DuckDBPyConnection, name: str) -> users.User:
    u = get_user(con, name)
    assert u is not None
    return u


def test_an_admin_adds_a_scoped_app_owner_who_can_sign_in(demo_con: duckdb.DuckDBPyConnection) -> None:
    admin = _u(demo_con, "admin")
    app, cc = demo_con.execute("SELECT app_id, cost_center_id FROM application ORDER BY 1 LIMIT 1").fetchall()[0]
    other = demo_con.execute("SELECT min(unit_id) FROM org_unit WHERE kind = 'cost_center' AND unit_id <> ?",
                             [cc]).fetchall()[0][0]
    user_admin.add_user(demo_con, admin, "Nina", "Nina Newowner", "app_owner", "correct horse battery",
                        cost_centers=[other], applications=[app])
    nina = _u(demo_con, "nina")
    assert nina.role == "app_owner" and nina.cost_centers == frozenset({cc, other})
    stored = demo_con.execute("SELECT password_hash FROM app_user WHERE username = 'nina'").fetchall()[0][0]
    assert bcrypt.checkpw(b"correct horse battery", stored.encode()) and "horse" not in stored
    assert sessions.sign_in(demo_con, "nina", "correct horse battery").username == "nina"
    assert user_admin.set_scope(demo_con, admin, "nina", [other]) == [other]
    assert _u(demo_con, "nina").cost_centers == frozenset({other})
    events = demo_con.execute("SELECT action, actor, entity_id FROM audit_event WHERE action LIKE 'user.%'"
                              " ORDER BY seq").fetchall()
    assert events == [("user.add", "admin", "nina"), ("user.scope", "admin", "nina")]


def test_only_admins_manage_users_and_bad_requests_are_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    admin, fiona = _u(demo_con, "admin"), _u(demo_con, "fiona")
    with pytest.raises(AccessDenied):
        user_admin.add_user(demo_con, fiona, "x1", "X", "finops", "a long enough password")
    with pytest.raises(InputError, match="needs a scope"):
        user_admin.add_user(demo_con, admin, "x2", "X", "app_owner", "a long enough password")
    with pytest.raises(InputError, match="only app owners are scoped"):
        user_admin.add_user(demo_con, admin, "x3", "X", "finops", "a long enough password", cost_centers=["CC001"])
    with pytest.raises(InputError, match="12 characters"):
        user_admin.add_user(demo_con, admin, "x4", "X", "finops", "short")
    with pytest.raises(InputError, match="already exists"):
        user_admin.add_user(demo_con, admin, "FIONA", "F", "finops", "a long enough password")
    with pytest.raises(InputError, match="not cost centres"):
        user_admin.add_user(demo_con, admin, "x5", "X", "app_owner", "a long enough password",
                            cost_centers=["CC-NOPE"])
    with pytest.raises(InputError, match="yourself"):
        users.disable_user(demo_con, "admin", admin)


def test_a_reset_ends_sessions_and_clears_a_lockout(demo_con: duckdb.DuckDBPyConnection) -> None:
    admin = _u(demo_con, "admin")
    session = sessions.sign_in(demo_con, "omar", "demo-owner")
    demo_con.execute("INSERT OR REPLACE INTO login_guard VALUES ('omar', 9, now(), now() + INTERVAL 1 HOUR)")
    assert user_admin.reset_password(demo_con, admin, "omar", "a brand new passphrase") >= 1
    assert not sessions.validate(demo_con, session.session_id).ok            # the old session ended
    assert demo_con.execute("SELECT count(*) FROM login_guard WHERE username = 'omar'").fetchall() == [(0,)]
    assert sessions.sign_in(demo_con, "omar", "a brand new passphrase").username == "omar"
    with pytest.raises(AccessDenied):
        sessions.sign_in(demo_con, "omar", "demo-owner")
