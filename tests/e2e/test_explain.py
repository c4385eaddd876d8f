"""An auditor explains a business unit's charge in a real browser and re-derives it from what the page shows.

The test reads every hop's amount entering, quantity, total quantity and share from the page's tables (not from the
engine), recomputes each chain (amount × share … per hop), adds the chains per cell, and checks that the cell's
posted cents are that figure's floor or ceiling, that the posted cells add up to the posted total shown, and that
the total equals the engine's and the store's to the cent."""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from engine.access.users import get_user
from engine.allocation import explain
from engine.insights import comparison
from tests.e2e.conftest import Server, login, screenshot, wait_idle
from ui.formats import money

pytestmark = pytest.mark.e2e
CENT = Decimal("0.01")
RELATIVE = Decimal("1e-36")  # shares carry 40 significant digits
BY_QUANTITY = ("driver", "allocated", "direct")

_READ_TABLES = """els => els.map(t => {
  const head = [...t.querySelectorAll('thead th')].map(c => c.textContent.trim());
  const rows = [...t.querySelectorAll('tbody tr')].map(r => [...r.children].map(c => c.textContent.trim()));
  return {head, rows};
})"""


def _tables(page: Page, selector: str) -> list[list[dict[str, str]]]:
    raw = page.locator(selector).evaluate_all(_READ_TABLES)
    return [[dict(zip(t["head"], r, strict=False)) for r in t["rows"]] for t in raw]


def _engine_total(db: Path, period: str, bu: str) -> Decimal:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return explain.explain(con, get_user(con, "audrey"), period, bu).posted_total
    finally:
        con.close()


def test_auditor_re_derives_a_business_unit_charge_from_the_page(page: Page, server: Server,
                                                                  demo_db_path: Path) -> None:
    con = duckdb.connect(str(demo_db_path), read_only=True)
    try:
        period = comparison.posted_periods(con)[-1]
    finally:
        con.close()
    login(page, server.url, "audrey", DEMO_LOGINS["audrey"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Explain a charge").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Explain a charge")).to_be_visible()
    expect(page.get_by_role("combobox", name="Period")).to_have_value(period)
    page.get_by_test_id("stRadio").get_by_text("Business unit", exact=True).click()
    wait_idle(page)
    target = page.get_by_role("combobox", name="Business unit")
    expect(target).to_be_visible()
    bu = target.input_value().split(" · ")[0]
    expect(page.get_by_text("Re-derive cell 1:")).to_be_attached(timeout=30_000)

    # what the page says was posted
    line = page.get_by_test_id("stText").filter(has_text="Posted total ").first
    expect(line).to_be_visible()
    shown_total = Decimal((line.text_content() or "").split()[2])
    metric = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(
        "Posted total", exact=True)).get_by_test_id("stMetricValue")
    expect(metric).to_have_text(money(shown_total))

    cells = _tables(page, '[data-testid="stMainBlockContainer"] [data-testid="stTable"] table')[0]
    chains = _tables(page, '[data-testid="stExpander"] [data-testid="stTable"] table')
    assert len(chains) == len(cells) > 0

    recomputed_total = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 50
        for cell, hops in zip(cells, chains, strict=True):
            per_chain: dict[str, list[dict[str, str]]] = defaultdict(list)
            for hop in hops:
                per_chain[hop["Chain"]].append(hop)
            exact = Decimal(0)
            for chain in per_chain.values():
                value = Decimal(chain[0]["Amount in"])
                for hop in chain:
                    if hop["Share"] == "solved":   # reciprocal: the simultaneous solve's total, shown as the amount
                        value = Decimal(hop["Amount"])
                        continue
                    share = Decimal(hop["Share"])
                    if hop["Quantity"] and hop["Total quantity"] and hop["Method"] in BY_QUANTITY:
                        ratio = Decimal(hop["Quantity"]) / Decimal(hop["Total quantity"])
                        assert abs(ratio - share) <= share * RELATIVE   # the share is quantity / total
                    assert Decimal(hop["Amount in"]) == value or abs(Decimal(hop["Amount in"]) - value) < Decimal(
                        "1e-25")
                    value = value * share
                exact += value
            posted = Decimal(cell["Posted"])
            assert abs(exact - Decimal(cell["Exact"])) < Decimal("1e-20")
            assert posted in (exact.quantize(CENT, ROUND_FLOOR), exact.quantize(CENT, ROUND_CEILING))
            assert posted - exact.quantize(CENT) == Decimal(cell["Rounding adjustment"])
            recomputed_total += posted
    assert recomputed_total == shown_total == _engine_total(demo_db_path, period, bu)
    screenshot(page, "explain_business_unit")
