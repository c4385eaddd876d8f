"""A person in a real browser: each role logs in and sees exactly its pages; anonymous URLs show only the login."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from data.generate import DEMO_LOGINS
from engine import store
from engine.access import users
from tests.e2e.conftest import Server, login, screenshot, start_server, stop_server, wait_idle
from ui.navigation import PAGES as ALL_PAGES
from ui.navigation import pages_for

PAGES = [p for p in ALL_PAGES if p.path.exists()]  # a page listed before its file lands is simply not shown

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("username", sorted(DEMO_LOGINS))
def test_each_role_sees_its_pages(page: Page, server: Server, username: str) -> None:
    password, role = DEMO_LOGINS[username]
    login(page, server.url, username, password)
    nav = page.get_by_test_id("stSidebarNav")
    allowed = {p.title for p in pages_for(role)}
    expect(page.get_by_role("heading", name=pages_for(role)[0].title)).to_be_visible()
    if len(allowed) == 1:  # Streamlit shows no page list for a single page
        expect(nav).to_have_count(0)
    for p in PAGES:
        link = nav.get_by_role("link", name=p.title)
        if p.title in allowed and len(allowed) > 1:
            expect(link).to_be_visible()
        elif p.title in allowed:
            continue
        else:
            expect(link).to_have_count(0)
    screenshot(page, f"login_{role}")


@pytest.mark.parametrize("username", ["omar", "fiona"])
def test_a_link_to_the_first_page_opens_that_page(page: Page, server: Server, username: str) -> None:
    """A bookmark or shared link to a user's first page (/explorer for an app owner, /overview for FinOps) opens it.
    Streamlit gives its default page no address but "/", so these said "Page not found" and ran the main page (the
    room harness found it on a reload: docs/reliability.md "Serving a room")."""
    password, role = DEMO_LOGINS[username]
    login(page, server.url, username, password)
    first = pages_for(role)[0]
    page.goto(f"{server.url}/{first.key}")
    wait_idle(page)
    expect(page.get_by_role("heading", name=first.title)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/{first.key}$"))
    expect(page.get_by_text("Page not found")).to_have_count(0)


def test_executive_reads_the_overview(page: Page, server: Server) -> None:
    login(page, server.url, "eve", DEMO_LOGINS["eve"][0])
    expect(page.get_by_role("heading", name="Executive overview")).to_be_visible()
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.first).to_be_visible()
    expect(page.get_by_text("Total spend")).to_be_visible()
    expect(page.locator(".vega-embed").first).to_be_visible(timeout=20_000)
    screenshot(page, "overview_executive")


@pytest.fixture(scope="module")
def fresh_server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server no session has touched yet: nothing has run app.py or built navigation for anyone."""
    folder = tmp_path_factory.mktemp("fresh")
    db = folder / "fresh.duckdb"
    shutil.copy(demo_db_path, db)
    s = start_server(db, folder / "fresh.log")
    yield s
    stop_server(s)


@pytest.mark.parametrize("page_key", [p.key for p in PAGES])
def test_protected_url_opened_anonymously_shows_only_login(page: Page, fresh_server: Server, page_key: str) -> None:
    page.goto(f"{fresh_server.url}/{page_key}")
    wait_idle(page)
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    expect(page.get_by_role("textbox", name="Password")).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
    expect(page.locator(".vega-embed")).to_have_count(0)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    body = page.locator("body").inner_text()
    assert "Total spend" not in body and "Cost this month" not in body
    screenshot(page, f"anonymous_{page_key}")


def test_dark_theme_follows_the_system_setting(browser, server: Server) -> None:  # noqa: ANN001
    ctx = browser.new_context(color_scheme="dark", viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        login(page, server.url, "eve", DEMO_LOGINS["eve"][0])
        expect(page.get_by_text("Total spend")).to_be_visible()
        expect(page.locator(".vega-embed").first).to_be_visible(timeout=20_000)
        bg = page.evaluate("getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
        r, g, b = (int(x) for x in bg[bg.index("(") + 1: bg.index(")")].split(",")[:3])
        assert r + g + b < 150, bg  # a dark background
        screenshot(page, "overview_dark")
    finally:
        ctx.close()


COOKIE = "apportion_auth"
NO_COOKIE = f"() => !document.cookie.split('; ').some(c => c.startsWith('{COOKIE}='))"


def test_logout_ends_the_session_and_forgets_the_cookie(page: Page, server: Server) -> None:
    login(page, server.url, "audrey", DEMO_LOGINS["audrey"][0])
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    # the component's JavaScript deletes the cookie; wait for it in the page itself, however loaded the machine is
    page.wait_for_function(NO_COOKIE, timeout=30_000)
    assert not any(c["name"] == COOKIE for c in page.context.cookies())
    page.goto("about:blank")
    page.goto(f"{server.url}/audit_trail")
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    login(page, server.url, "audrey", DEMO_LOGINS["audrey"][0])  # and the same browser can sign in again
    expect(page.get_by_text("Signed in as")).to_be_visible()


# ------------------------------------------------------------------ sessions that end (a server of this module's own)

@pytest.fixture(scope="module")
def own_server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose users these tests lock out and disable, so no other test meets them."""
    folder = tmp_path_factory.mktemp("sessions")
    db = folder / "sessions.duckdb"
    shutil.copy(demo_db_path, db)
    s = start_server(db, folder / "sessions.log")
    yield s
    stop_server(s)


def _auth_cookie(ctx: BrowserContext) -> dict[str, object]:
    found = [c for c in ctx.cookies() if c["name"] == COOKIE]
    assert found, "the login cookie was not written"
    return dict(found[0])


def _with_cookie(browser: Browser, cookie: dict[str, object]) -> BrowserContext:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.add_cookies([cookie])  # type: ignore[list-item]
    return ctx


def _expect_login_form(page: Page) -> None:
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page.get_by_role("heading", name="Month close")).to_have_count(0)
    expect(page.get_by_text("This app has encountered an error")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_a_copied_token_is_refused_after_logout(browser: Browser, own_server: Server) -> None:
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    second: BrowserContext | None = None
    try:
        page = first.new_page()
        login(page, own_server.url, "fiona", DEMO_LOGINS["fiona"][0])
        token = _auth_cookie(first)
        second = _with_cookie(browser, token)
        other = second.new_page()
        other.goto(f"{own_server.url}/month_close")  # the copied token works while its session is live
        expect(other.get_by_role("heading", name="Month close")).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Log out").click()
        expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=30_000)
        other.goto("about:blank")
        other.goto(f"{own_server.url}/month_close")  # replayed after logout, from the other browser
        _expect_login_form(other)
        screenshot(other, "token_after_logout")
    finally:
        first.close()
        if second is not None:
            second.close()


def test_a_token_is_refused_after_the_user_is_disabled(browser: Browser, own_server: Server) -> None:
    """The admin's disable (engine.access.users.disable_user; there is no user page yet) runs while the server is
    stopped, because the server holds the DuckDB file; the browsers keep their cookies across the restart."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    keep = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        login(ctx.new_page(), own_server.url, "eve", DEMO_LOGINS["eve"][0])
        login(keep.new_page(), own_server.url, "admin", DEMO_LOGINS["admin"][0])
        _auth_cookie(ctx), _auth_cookie(keep)  # both hold a login cookie (cookies ignore the port: kept)
        stop_server(own_server)
        con = store.connect(own_server.db_path)
        try:
            assert users.disable_user(con, "eve", users.get_user(con, "admin"), reason="left") >= 1
        finally:
            con.close()
        restarted = start_server(own_server.db_path, own_server.db_path.with_suffix(".restart.log"))
        own_server.url, own_server.proc = restarted.url, restarted.proc
        page = ctx.new_page()
        page.goto(f"{own_server.url}/overview")
        _expect_login_form(page)
        admin_page = keep.new_page()  # the admin's session, untouched by the disable, still opens
        admin_page.goto(f"{own_server.url}/month_close")
        expect(admin_page.get_by_role("heading", name="Month close")).to_be_visible(timeout=30_000)
    finally:
        ctx.close()
        keep.close()


def test_five_wrong_passwords_lock_the_account(page: Page, own_server: Server) -> None:
    page.goto(own_server.url)
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=30_000)
    wait_idle(page)

    def attempt(password: str) -> None:
        page.get_by_role("textbox", name="Username").fill("omar")
        page.get_by_role("textbox", name="Password").fill(password)
        page.get_by_role("button", name="Login").click()

    for i in range(4):
        attempt(f"wrong-{i}")
        expect(page.get_by_text("Username or password is incorrect.")).to_be_visible(timeout=30_000)
        wait_idle(page)
    attempt("wrong-4")
    locked = page.get_by_text("Too many failed sign-ins; try again after")
    expect(locked).to_be_visible(timeout=30_000)
    expect(locked).to_contain_text(" UTC")
    wait_idle(page)
    attempt(DEMO_LOGINS["omar"][0])  # the right password, while locked
    wait_idle(page)
    expect(locked).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert not any(c["name"] == COOKIE for c in page.context.cookies())
    screenshot(page, "lockout")


def _malformed() -> dict[str, str]:
    key = os.environ["APPORTION_COOKIE_KEY"]  # the server's own key (tests/conftest.py sets it for every process)
    future = int(time.time()) + 3600
    return {
        "alg_none": jwt.encode({"sid": "x", "exp": future}, None, algorithm="none"),
        "alg_none_old_format": jwt.encode({"username": "fiona", "exp_date": future}, None, algorithm="none"),
        "bad_signature": jwt.encode({"sid": "x", "exp": future}, "not-the-key" * 4, algorithm="HS256"),
        "no_exp": jwt.encode({"sid": "x"}, key, algorithm="HS256"),
        "old_format_unknown_user": jwt.encode({"username": "nobody", "exp_date": future}, key, algorithm="HS256"),
        "old_format_real_user": jwt.encode({"username": "fiona", "exp_date": future}, key, algorithm="HS256"),
        "minted_with_the_cookie_key": jwt.encode({"sid": "fiona", "exp": future}, key, algorithm="HS256"),
        "garbage": "not-a-token",
    }


@pytest.mark.parametrize("case", sorted(_malformed()))
def test_a_malformed_cookie_shows_the_login_form(browser: Browser, own_server: Server, case: str) -> None:
    ctx = _with_cookie(browser, {"name": COOKIE, "value": _malformed()[case], "domain": "127.0.0.1", "path": "/"})
    try:
        page = ctx.new_page()
        page.goto(f"{own_server.url}/month_close")
        _expect_login_form(page)
    finally:
        ctx.close()
