"""An admin adds an app owner with a scope on the Users page; that user signs in and sees only that scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from data.generate import DEMO_LOGINS
from engine import store
from tests.e2e.conftest import Server, login, private_server, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    with private_server(demo_db_path, tmp_path_factory.mktemp("users")) as s:
        yield s, s.db_path


def test_an_admin_adds_a_scoped_app_owner_who_sees_only_it(page: Page, browser: Browser,
                                                          browser_context_args: dict[str, object],
                                                          own_server: tuple[Server, Path]) -> None:
    server, db = own_server
    con = store.connect(db, read_only=True)
    cc, name = con.execute("SELECT unit_id, name FROM org_unit WHERE kind = 'cost_center' ORDER BY unit_id DESC"
                           " LIMIT 1").fetchall()[0]
    con.close()
    login(page, server.url, "admin", DEMO_LOGINS["admin"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Users").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    page.get_by_text("Add a user").click()
    page.get_by_role("textbox", name="Username").fill("nina")
    page.get_by_role("textbox", name="Display name").fill("Nina Newowner")
    page.get_by_role("textbox", name="Initial password (12+ characters)").fill("correct horse battery")
    form = page.get_by_test_id("stForm").filter(has_text="Cost centres (app owners)")
    for _ in range(3):                          # a click that lands during a rerun can be dropped: check and retry
        page.get_by_role("combobox", name="Cost centres (app owners)").click()
        page.keyboard.type(cc)                  # the option list is virtualised: filter it to the one wanted
        page.get_by_role("option", name=f"{cc} · {name}").click()
        page.keyboard.press("Escape")
        if form.get_by_text(f"{cc} · {name}").count():
            break
    expect(form.get_by_text(f"{cc} · {name}")).to_be_visible()          # the chip: the choice is in the form
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_text("Added nina (app_owner).")).to_be_visible(timeout=30_000)
    screenshot(page, "users_admin_added_app_owner")

    other = browser.new_context(**browser_context_args)
    try:
        tab = other.new_page()
        login(tab, server.url, "nina", "correct horse battery")
        tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Cost explorer").click()
        wait_idle(tab)
        expect(tab.get_by_text(f"Scoped to your cost centres: {cc}", exact=True)).to_be_visible(timeout=30_000)
        tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Statements").click()
        wait_idle(tab)
        box = tab.get_by_role("combobox", name="Cost centre")
        expect(box).to_have_value(f"{cc} · {name}")
        box.click()
        expect(tab.get_by_role("option")).to_have_count(1)
        screenshot(tab, "users_new_app_owner_scoped")
    finally:
        other.close()
