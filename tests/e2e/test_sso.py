"""Single sign-on against a real OpenID Connect provider (oidc-provider-mock on a localhost port): Streamlit's
st.login does the authorization-code flow, the claims become the Apportion user, and a change of claims at the
provider shows at the next sign-in."""

from __future__ import annotations

import json
import secrets
import shutil
import urllib.request
from pathlib import Path

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import Page, expect

from engine import store
from tests.e2e.conftest import _free_port, screenshot, start_server, stop_server, wait_idle

pytestmark = pytest.mark.e2e

SARA = {"preferred_username": "sara", "name": "Sara Singh", "email": "sara@example.com",
        "apportion_role": "app_owner", "cost_centers": ["CC015"]}
REX = {"preferred_username": "rex", "name": "Rex", "apportion_role": "superuser"}


def _secrets_file(folder: Path, app_port: int, provider_port: int) -> Path:
    path = folder / "secrets.toml"
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "apportion"\n'
        f'client_secret = "{secrets.token_urlsafe(16)}"\n'
        f'server_metadata_url = "http://localhost:{provider_port}/.well-known/openid-configuration"\n')
    return path


def _set_claims(provider_port: int, sub: str, claims: dict[str, object]) -> None:
    req = urllib.request.Request(f"http://localhost:{provider_port}/users/{sub}", method="PUT",
                                 data=json.dumps(claims).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204


def _sign_in_through_the_provider(page: Page, app_url: str, sub: str = "sara", *, admitted: bool = True) -> None:
    page.goto(app_url)
    wait_idle(page)
    page.get_by_role("button", name="Sign in with single sign-on").click()
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()   # the provider's own page
    page.get_by_role("button", name=sub, exact=True).click()
    if admitted:
        expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)
    else:
        expect(page.get_by_role("button", name="Log out of single sign-on")).to_be_visible(timeout=30_000)
    wait_idle(page)


def _log_out(page: Page, button: str = "Log out") -> None:
    page.get_by_role("button", name=button).click()
    # st.logout ends the provider's session too: its end-session page, then back to the app's login.
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Sign in with single sign-on")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_sso_maps_claims_to_role_and_scope_and_follows_a_change(page: Page, demo_db_path: Path,
                                                               tmp_path: Path) -> None:
    db = tmp_path / "app.duckdb"
    shutil.copy(demo_db_path, db)
    with run_server_in_thread(user_claims=[User(sub="sara", claims=dict(SARA)),
                                           User(sub="rex", claims=dict(REX))]) as provider:
        app_port = _free_port()
        secrets_path = _secrets_file(tmp_path, app_port, provider.server_port)
        server = start_server(db, tmp_path / "streamlit.log", port=app_port,
                              extra_args=[f"--secrets.files={secrets_path}"])
        app_url = f"http://localhost:{app_port}"   # the host of redirect_uri: Streamlit's login cookies live there
        try:
            _sign_in_through_the_provider(page, app_url)
            nav = page.get_by_test_id("stSidebarNav")
            expect(page.get_by_text("Signed in as Sara Singh · app owner")).to_be_visible()
            expect(nav.get_by_role("link", name="Executive overview")).to_have_count(0)
            nav.get_by_role("link", name="Cost explorer").click()
            wait_idle(page)
            expect(page.get_by_text("Scoped to your cost centres: CC015", exact=True)).to_be_visible()
            screenshot(page, "sso_app_owner_scoped")

            _set_claims(provider.server_port, "sara", {**SARA, "apportion_role": "executive"})
            _log_out(page)

            _sign_in_through_the_provider(page, app_url)
            expect(page.get_by_text("Signed in as Sara Singh · executive")).to_be_visible()
            expect(nav.get_by_role("link", name="Executive overview")).to_be_visible()
            nav.get_by_role("link", name="Cost explorer").click()
            wait_idle(page)
            expect(page.get_by_role("heading", name="Cost explorer")).to_be_visible()
            expect(page.get_by_text("Scoped to your cost centres")).to_have_count(0)
            screenshot(page, "sso_executive_after_claims_changed")

            _log_out(page)   # a role the app does not know: the reason, a way out, and no page at all
            _sign_in_through_the_provider(page, app_url, "rex", admitted=False)
            expect(page.get_by_text("The identity provider gives you the role 'superuser', which Apportion does "
                                    "not know")).to_be_visible()
            expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
            screenshot(page, "sso_unknown_role_refused")
            _log_out(page, "Log out of single sign-on")
        finally:
            stop_server(server)
    con = store.connect(db, read_only=True)
    try:
        events = con.execute("SELECT action, detail FROM audit_event WHERE entity_id = 'sara' AND "
                             "(action LIKE 'user.sso%' OR action = 'session.sso_login') ORDER BY seq").fetchall()
        scope = con.execute("SELECT count(*) FROM user_scope WHERE username = 'sara'").fetchall()[0][0]
        role = con.execute("SELECT role FROM app_user WHERE username = 'sara'").fetchall()[0][0]
        rex = con.execute("SELECT count(*) FROM app_user WHERE username = 'rex'").fetchall()[0][0]
    finally:
        con.close()
    assert [a for a, _ in events] == ["user.sso_provisioned", "session.sso_login", "user.sso_updated",
                                      "session.sso_login"]
    updated = json.loads(events[2][1])
    assert (updated["before"]["role"], updated["after"]["role"]) == ("app_owner", "executive")
    assert (role, scope) == ("executive", 0)
    assert rex == 0   # refused users are not created
