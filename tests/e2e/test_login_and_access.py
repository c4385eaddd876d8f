"""A person in a real browser: each role logs in and sees exactly its pages; anonymous URLs show only the login."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
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


def test_logout_ends_the_session_and_forgets_the_cookie(page: Page, server: Server) -> None:
    login(page, server.url, "audrey", DEMO_LOGINS["audrey"][0])
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("textbox", name="Username")).to_be_visible(timeout=20_000)
    wait_idle(page)
    for _ in range(300):  # the cookie is deleted by the component's JavaScript: up to 30 s on a loaded machine
        if not any(c["name"] == "apportion_auth" for c in page.context.cookies()):
            break
        page.wait_for_timeout(100)
    assert not any(c["name"] == "apportion_auth" for c in page.context.cookies())
    page.goto("about:blank")
    page.goto(f"{server.url}/audit_trail")
    wait_idle(page)
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    login(page, server.url, "audrey", DEMO_LOGINS["audrey"][0])  # and the same browser can sign in again
