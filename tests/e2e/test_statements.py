"""An app owner reads their statement in a real browser: their cost centre's figures with last month's charge and
the change, and no organisation-wide figure (run total, invoice total, difference) anywhere on the page."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from engine.access.statement_access import statement_for
from engine.access.users import get_user
from engine.allocation.runs import latest_run
from engine.costmodels.presets import FULL_RECOVERY
from engine.insights import comparison
from engine.outputs.statements import Statement
from engine.reconcile.invoices import AllocatedVsInvoice, allocated_vs_invoice
from tests.e2e.conftest import Server, login, screenshot, wait_idle
from ui.formats import money

pytestmark = pytest.mark.e2e


def _expected(db: Path) -> tuple[Statement, AllocatedVsInvoice]:
    """The statement the page should show (latest month, the owner's first cost centre, full recovery: the page's
    defaults) and the organisation's figures it must not show, read from the store the server's copy came from."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        omar = get_user(con, "omar")
        assert omar is not None and omar.cost_centers
        period = comparison.posted_periods(con)[-1]
        run = latest_run(con, period)
        assert run is not None
        return (statement_for(con, omar, period, sorted(omar.cost_centers)[0], FULL_RECOVERY),
                allocated_vs_invoice(con, run))
    finally:
        con.close()


def _metric(page: Page, label: str):  # noqa: ANN202 (a Playwright Locator)
    return page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))


def test_app_owner_statement_shows_last_month_and_no_organisation_figure(page: Page, server: Server,
                                                                         demo_db_path: Path) -> None:
    stmt, org = _expected(demo_db_path)
    assert stmt.prior.charge is not None and stmt.charge_change is not None
    login(page, server.url, "omar", DEMO_LOGINS["omar"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Statements").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Statements")).to_be_visible()
    expect(page.get_by_role("combobox", name="Cost centre")).to_have_value(
        f"{stmt.cost_center_id} · {stmt.cost_center_name}")

    charge = _metric(page, "Charge")
    expect(charge.get_by_test_id("stMetricValue")).to_have_text(money(stmt.charge))
    expect(charge.get_by_test_id("stMetricDelta")).to_have_text(money(stmt.charge_change) + " vs prior month")
    prior = _metric(page, f"Charge {stmt.prior.period}")
    expect(prior.get_by_test_id("stMetricValue")).to_have_text(money(stmt.prior.charge))
    expect(page.get_by_text(stmt.prior_line())).to_be_visible()

    main = page.get_by_test_id("stMain")
    expect(main).to_contain_text(money(stmt.allocated))
    text = main.inner_text()
    for figure in (org.allocated_total, org.invoice_total, org.difference):
        if figure is not None:
            assert f"{figure:,.2f}" not in text, figure
    assert "invoiced" not in text.lower()      # no "Allocated … vs invoiced …: difference …" line either
    screenshot(page, "statement_app_owner")
