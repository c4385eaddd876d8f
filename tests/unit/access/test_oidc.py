"""Single sign-on claims → the Apportion user: role and scope from the claims, JIT creation, audited updates, and
every refusal a person signing in could meet. Real DuckDB store with the demo organisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import bcrypt
import duckdb
import pytest

from engine.access import oidc, sessions, users
from engine.access.oidc import ClaimNames
from engine.errors import AccessDenied

ISS = "http://localhost:9999"


def _claims(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {"iss": ISS, "sub": "sara-sub", "preferred_username": "Sara",
                               "email": "sara@example.com", "name": "Sara Singh",
                               "apportion_role": "app_owner", "cost_centers": ["CC015"]}
    base.update(extra)
    return base


def _events(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, dict[str, object]]]:
    rows = con.execute("SELECT action, actor, entity_id, detail FROM audit_event WHERE action LIKE 'user.sso%' "
                       "ORDER BY seq").fetchall()
    return [(a, b, c, json.loads(d)) for a, b, c, d in rows]


def test_first_sign_in_creates_a_scoped_app_owner_who_cannot_use_the_password_form(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    user = oidc.user_from_claims(demo_con, _claims())
    assert (user.username, user.display_name, user.role) == ("sara", "Sara Singh", "app_owner")
    assert user.cost_centers == frozenset({"CC015"})
    stored = demo_con.execute("SELECT email, password_hash FROM app_user WHERE username = 'sara'").fetchall()[0]
    assert stored[0] == "sara@example.com"
    assert stored[1].startswith("$2b$12$") and bcrypt.checkpw(b"x", stored[1].encode()) is False
    with pytest.raises(AccessDenied, match="incorrect"):
        sessions.sign_in(demo_con, "sara", "Sara Singh")
    assert _events(demo_con) == [("user.sso_provisioned", "sso", "sara", {"issuer": ISS, "after": {
        "role": "app_owner", "cost_centers": ["CC015"], "display_name": "Sara Singh", "email": "sara@example.com"}})]
    # The same claims again: the same user, nothing written.
    assert oidc.user_from_claims(demo_con, _claims()) == user
    assert len(_events(demo_con)) == 1


def test_changed_claims_update_role_and_scope_with_before_and_after(demo_con: duckdb.DuckDBPyConnection) -> None:
    oidc.user_from_claims(demo_con, _claims())
    wider = oidc.user_from_claims(demo_con, _claims(cost_centers="CC015, CC016"))
    assert wider.cost_centers == frozenset({"CC015", "CC016"})
    exec_ = oidc.user_from_claims(demo_con, _claims(apportion_role="Executive"))
    assert exec_.role == "executive" and exec_.cost_centers is None
    assert demo_con.execute("SELECT count(*) FROM user_scope WHERE username = 'sara'").fetchall()[0][0] == 0
    events = _events(demo_con)
    assert [e[0] for e in events] == ["user.sso_provisioned", "user.sso_updated", "user.sso_updated"]
    assert events[1][3]["before"]["cost_centers"] == ["CC015"]  # type: ignore[index]
    assert events[1][3]["after"]["cost_centers"] == ["CC015", "CC016"]  # type: ignore[index]
    assert events[2][3]["before"]["role"] == "app_owner"  # type: ignore[index]
    assert events[2][3]["after"] == {"role": "executive", "cost_centers": [], "display_name": "Sara Singh",
                                     "email": "sara@example.com"}
    # The scope in SQL follows: the user's view is what engine/access/scope.py reads from the store.
    assert users.get_user(demo_con, "sara") == exec_


def test_email_is_the_username_when_the_username_claim_is_missing(demo_con: duckdb.DuckDBPyConnection) -> None:
    claims = _claims(apportion_role="auditor")
    del claims["preferred_username"]
    user = oidc.user_from_claims(demo_con, claims)
    assert (user.username, user.role, user.cost_centers) == ("sara@example.com", "auditor", None)
    with pytest.raises(AccessDenied, match="no username"):
        oidc.user_from_claims(demo_con, {"iss": ISS, "apportion_role": "auditor"})


def test_claim_names_come_from_settings(demo_con: duckdb.DuckDBPyConnection,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPORTION_SSO_ROLE_CLAIM", "groups_role")
    monkeypatch.setenv("APPORTION_SSO_SCOPE_CLAIM", "ccs")
    names = ClaimNames.from_settings()
    assert (names.role, names.scope, names.username) == ("groups_role", "ccs", "preferred_username")
    user = oidc.user_from_claims(demo_con, {"preferred_username": "kim", "groups_role": "app_owner",
                                            "ccs": "CC001"})
    assert user.cost_centers == frozenset({"CC001"})


@pytest.mark.parametrize(("claims", "message"), [
    (_claims(apportion_role="superuser"), "role 'superuser', which Apportion does not know"),
    (_claims(apportion_role=None), "no Apportion role"),
    (_claims(apportion_role=["admin"]), "no Apportion role"),
    (_claims(cost_centers=[]), "names none of your cost centres"),
    (_claims(cost_centers=" , "), "names none of your cost centres"),
    (_claims(cost_centers=None), "names none of your cost centres"),
    (_claims(cost_centers=["CC015", "CC-NOPE"]), "does not know: CC-NOPE"),
    (_claims(preferred_username="sara smith"), "not one Apportion accepts"),
])
def test_bad_claims_are_refused_and_nothing_is_written(demo_con: duckdb.DuckDBPyConnection,
                                                       claims: dict[str, object], message: str) -> None:
    with pytest.raises(AccessDenied, match=message):
        oidc.user_from_claims(demo_con, claims)
    assert demo_con.execute("SELECT count(*) FROM app_user WHERE username LIKE 'sara%'").fetchall()[0][0] == 0
    assert _events(demo_con) == []


def test_a_bad_role_claim_does_not_change_a_known_user(demo_con: duckdb.DuckDBPyConnection) -> None:
    oidc.user_from_claims(demo_con, _claims())
    with pytest.raises(AccessDenied, match="does not know"):
        oidc.user_from_claims(demo_con, _claims(apportion_role="root"))
    assert users.get_user(demo_con, "sara") == users.User("sara", "Sara Singh", "app_owner", frozenset({"CC015"}))


def test_a_disabled_user_is_refused_every_time_whatever_the_claims(demo_con: duckdb.DuckDBPyConnection) -> None:
    admin = users.get_user(demo_con, "admin")
    oidc.user_from_claims(demo_con, _claims())
    users.disable_user(demo_con, "sara", admin)
    for claims in (_claims(), _claims(apportion_role="admin"), _claims(apportion_role="executive")):
        with pytest.raises(AccessDenied, match="disabled"):
            oidc.user_from_claims(demo_con, claims)
    assert demo_con.execute("SELECT role FROM app_user WHERE username = 'sara'").fetchall()[0][0] == "app_owner"
    assert len(_events(demo_con)) == 1
    users.enable_user(demo_con, "sara", admin)
    assert oidc.user_from_claims(demo_con, _claims()).role == "app_owner"


def test_without_just_in_time_creation_only_known_users_sign_in(demo_con: duckdb.DuckDBPyConnection) -> None:
    names = ClaimNames(create_users=False)
    with pytest.raises(AccessDenied, match="no Apportion account for 'sara'"):
        oidc.user_from_claims(demo_con, _claims(), names)
    fiona = oidc.user_from_claims(demo_con, _claims(preferred_username="fiona", apportion_role="finops",
                                                    name="Fiona"), names)
    assert fiona.role == "finops"


def test_an_old_sign_in_is_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    fresh = int((now - timedelta(hours=1)).timestamp())
    stale = int((now - timedelta(hours=13)).timestamp())
    assert oidc.user_from_claims(demo_con, _claims(iat=fresh), ClaimNames(), now=now).username == "sara"
    with pytest.raises(AccessDenied, match="expired"):
        oidc.user_from_claims(demo_con, _claims(iat=stale), ClaimNames(), now=now)
