"""FinOps changes the tag standard in a real browser and the coverage on the page follows (own server and DuckDB
copy: the standard is store-wide, the other journeys share theirs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Locator, Page, expect

from data.generate import DEMO_LOGINS
from tests.e2e.conftest import Server, login, private_server, screenshot, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with private_server(demo_db_path, tmp_path_factory.mktemp("e2e_tagstd")) as s:
        yield s


def _coverage_value(page: Page) -> Locator:
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Tag coverage", exact=True))
    return metric.get_by_test_id("stMetricValue")


def _coverage(page: Page) -> str:
    return _coverage_value(page).inner_text()


def test_finops_requires_only_the_cost_centre_and_coverage_follows(page: Page, own_server: Server,
                                                                   demo_db_path: Path) -> None:
    login(page, own_server.url, "fiona", DEMO_LOGINS["fiona"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Reconciliation").click()
    wait_idle(page)
    page.get_by_role("tab", name="Tag hygiene").click()
    before = _coverage(page)
    page.get_by_text("Tag standard — built-in default").click()
    required = page.get_by_role("textbox", name="Required tags")
    required.fill("Cost Center")
    page.get_by_role("textbox", name="Allowed values").fill("")
    page.get_by_role("textbox", name="Why").fill("chargeback needs only the cost centre")
    page.get_by_role("textbox", name="Why").press("Tab")
    screenshot(page, "reconciliation_tag_standard_form")
    page.get_by_role("button", name="Save as a new version").click()
    wait_idle(page)
    expect(page.get_by_text("Tag standard — version 1")).to_be_visible(timeout=15_000)
    # independent, on the untouched demo file the server's copy came from (the server holds its own copy open):
    # the share of 2026-10 effective cost whose cost-centre tag names a known cost centre
    con = duckdb.connect(str(demo_db_path), read_only=True)
    try:
        share = con.sql("""
            SELECT 100 * sum(effective_cost) FILTER (WHERE lower(trim(tag_cost_center)) IN
                       (SELECT lower(unit_id) FROM org_unit WHERE kind = 'cost_center')) / sum(effective_cost)
            FROM cost_line WHERE billing_period = '2026-10'""").fetchall()[0][0]
    finally:
        con.close()
    expect(_coverage_value(page)).to_have_text(f"{share:.1f}%", timeout=20_000)  # the rerun may still be drawing
    expect(_coverage_value(page)).not_to_have_text(before)
    screenshot(page, "reconciliation_tag_standard")
