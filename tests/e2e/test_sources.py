"""FinOps adds a polled source pointing at this test's localhost server (the real Snipe-IT sample, two per page),
runs it in the browser, and sees its freshness and rows on the Sources page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from tests.e2e.conftest import Server, login, screenshot, wait_idle
from tests.unit.sources.api_server import ApiServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def api() -> Iterator[ApiServer]:
    server = ApiServer(token=None)        # no credential variable: the app server's environment is not ours
    yield server
    server.stop()


def test_finops_adds_a_polled_source_runs_it_and_sees_freshness_and_rows(page: Page, server: Server,
                                                                        api: ApiServer) -> None:
    login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
    nav = page.get_by_test_id("stSidebarNav")
    link = nav.get_by_role("link", name="Sources", exact=True)
    more = page.get_by_test_id("stSidebarNavViewButton")
    if not link.is_visible() and more.is_visible():
        more.click()                        # a long navigation shows "View more" first
    link.click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Sources")).to_be_visible()
    expect(page.get_by_text("No source yet")).to_be_visible()          # so "Add a source" is open
    page.get_by_role("textbox", name="Name").fill("snipe-e2e")
    page.get_by_test_id("stSelectbox").filter(has_text="Kind").click()
    page.get_by_role("option", name="snipeit", exact=True).click()
    page.get_by_role("textbox", name="Endpoint or folder").fill(api.url)
    page.get_by_role("spinbutton", name="Page size").fill("2")
    page.get_by_role("spinbutton", name="Page size").press("Tab")
    page.get_by_role("button", name="Add source").click()
    expect(page.get_by_role("button", name="Run now")).to_be_visible(timeout=20_000)
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Source")).to_be_visible()
    screenshot(page, "sources_after_add")

    page.get_by_role("button", name="Run now").click()
    wait_idle(page, 60_000)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("rows loaded", timeout=60_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Fresh")).to_contain_text("1")   # was 0: never run
    expect(page.get_by_test_id("stText").filter(has_text="snipe-e2e:")).to_contain_text(
        "polls more often than the target needs")                   # the cost vs freshness recommendation
    screenshot(page, "sources_after_run")

    expect(page.get_by_test_id("stMetric").filter(has_text="Rows loaded")).to_contain_text("3")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    assert len([r for r in api.requests if r.startswith("/api/v1/hardware")]) >= 2   # two pages of two
