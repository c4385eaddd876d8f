"""Finance enters a vendor invoice in a real browser, sees its variance against the billed cost and opens a dispute
with the vendor from it; after a reload the invoice is no longer offered for a second dispute and the dispute waits
to be sent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from tests.e2e.conftest import Server, login, screenshot, wait_idle
from ui.formats import money

pytestmark = pytest.mark.e2e


def _invoice(db: Path) -> tuple[str, str, Decimal]:
    """The last demo invoice of the latest month (the page's default period), and its billed cost."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        vendor, invoice_id, billed = con.execute(
            "SELECT provider, invoice_id, CAST(round(sum(billed_cost), 2) AS DECIMAL(18, 2)) FROM cost_line"
            " WHERE invoice_id IS NOT NULL AND billing_period = (SELECT max(billing_period) FROM cost_line)"
            " GROUP BY ALL ORDER BY provider DESC, invoice_id DESC LIMIT 1").fetchall()[0]
    finally:
        con.close()
    return vendor, invoice_id, Decimal(billed)


def _metric(page: Page, label: str):  # noqa: ANN202 (a Playwright Locator)
    return page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)).get_by_test_id("stMetricValue")


def test_an_invoice_is_entered_its_variance_shown_and_a_dispute_opened(page: Page, server: Server,
                                                                       demo_db_path: Path) -> None:
    vendor, invoice_id, billed = _invoice(demo_db_path)
    over = (billed * Decimal("0.03")).quantize(Decimal("0.01"))           # 3 % over: beyond both tolerances
    invoiced = billed + over
    login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name="Invoices", exact=True)
    more = page.get_by_test_id("stSidebarNavViewButton")
    if not link.is_visible() and more.is_visible():
        more.click()                        # a long navigation shows "View more" first
    link.click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Invoices", exact=True)).to_be_visible()

    page.get_by_role("textbox", name="Invoice id").fill(invoice_id)
    page.get_by_role("textbox", name="Vendor").fill(vendor)
    page.get_by_role("textbox", name="Invoice total").fill(f"{invoiced:,.2f}")
    page.get_by_role("button", name="Save invoice").click()
    wait_idle(page)
    expect(page.get_by_text(f"Saved invoice {invoice_id} from {vendor}: {money(invoiced)}.")).to_be_visible()

    # the only invoice of the month with a variance and no dispute in progress: already the one picked
    expect(page.get_by_role("combobox", name="Invoice", exact=True)).to_have_value(f"{vendor} · {invoice_id}")
    expect(_metric(page, "Billed")).to_have_text(money(billed))
    expect(_metric(page, "Invoiced")).to_have_text(money(invoiced))
    expect(_metric(page, "Variance")).to_have_text(money(-over))
    expect(page.get_by_role("textbox", name="Amount to dispute")).to_have_value(f"{over:.2f}")

    reason = page.get_by_role("textbox", name="Reason for the vendor")
    reason.fill("Premium support invoiced twice")
    reason.press("Tab")                                         # a text area sends its value when it loses focus
    wait_idle(page)
    page.get_by_role("button", name="Open dispute").click()
    wait_idle(page)
    expect(page.get_by_text(f"opened with {vendor} about invoice {invoice_id} for {money(over)}.")).to_be_visible()
    screenshot(page, "invoice_dispute_opened")

    page.reload()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Invoice disputes", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Dispute", exact=True)).to_have_value(
        f"#1 · {vendor} · {invoice_id} (open)")
    expect(page.get_by_role("combobox", name="Invoice", exact=True)).to_have_count(0)   # nothing left to dispute
    expect(page.get_by_text("No invoice of this period has a variance without a dispute in progress.")).to_be_visible()
