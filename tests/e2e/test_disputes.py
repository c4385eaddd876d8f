"""In a real browser: the app owner disputes a statement line, FinOps accepts it, the next month's run posts the
adjustment, the next month's statement shows it and the KPI page counts the dispute."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from engine.insights import comparison
from tests.e2e.conftest import Server, login, private_server, screenshot, wait_idle
from ui.formats import money

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: accepting a dispute posts a new run, which would change the figures other browser
    tests read from the shared store."""
    with private_server(demo_db_path, tmp_path_factory.mktemp("disputes")) as s:
        yield s


def _months(db: Path) -> tuple[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        posted = comparison.posted_periods(con)
    finally:
        con.close()
    return posted[-2], posted[-1]


def _open(page: Page, name: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    wait_idle(page)


def _pick(page: Page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)


def test_owner_disputes_finops_accepts_next_statement_shows_it(page: Page, server: Server,
                                                               demo_db_path: Path) -> None:
    disputed, nxt = _months(demo_db_path)
    login(page, server.url, "omar", DEMO_LOGINS["omar"][0])
    _open(page, "Disputes")
    expect(page.get_by_role("heading", name="Disputes").first).to_be_visible()
    _pick(page, "Statement month", disputed)
    page.get_by_label("Amount disputed").fill("25.00")
    page.get_by_label("Reason").fill("these tickets were raised by another team")
    page.get_by_role("button", name="Raise dispute").click()
    wait_idle(page)
    expect(page.get_by_text("raised: FinOps has been notified")).to_be_visible()
    dispute_id = page.get_by_text("raised: FinOps has been notified").inner_text().split()[1].rstrip(":")
    page.context.clear_cookies()

    login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
    _open(page, "Disputes")
    expect(page.get_by_text(f"Dispute {dispute_id} raised on CC015")).to_be_visible()
    page.get_by_label("Answer to the app owner").fill("agreed, moved to central")
    page.get_by_role("button", name="Accept").click()
    wait_idle(page)
    expect(page.get_by_text(f"Accepted: 25.00 is posted in the next {nxt} run")).to_be_visible()
    page.get_by_role("button", name=f"Re-run {nxt} to post the adjustments").click()
    wait_idle(page, 120_000)
    expect(page.get_by_text(f"{nxt} posted: run")).to_be_visible(timeout=120_000)

    _open(page, "Statements")
    expect(page.get_by_role("combobox", name="Period")).to_have_value(nxt)
    page.get_by_role("combobox", name="Cost centre").click()
    page.get_by_role("combobox", name="Cost centre").fill("CC015")   # the list is long: type to filter it
    page.get_by_role("option", name=re.compile(r"^CC015")).first.click()
    wait_idle(page)
    # the statement of the next month carries the adjustment line: the amount moved off CC015
    expect(page.get_by_text(f"Dispute {dispute_id} adjustment (accepted dispute): {money(Decimal('-25.00'))}"
                            )).to_be_visible()
    screenshot(page, "statement_dispute_adjustment")

    page.goto(server.url + "/improvement")   # the long sidebar folds its last section behind "View more"
    wait_idle(page)
    expect(page.get_by_role("heading", name="Continuous improvement")).to_be_visible()
    _pick(page, "Month", disputed)
    disputes_metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text("Disputes", exact=True))
    expect(disputes_metric.get_by_test_id("stMetricValue")).to_have_text("1")
    screenshot(page, "improvement_dispute_counted")
