"""FinOps changes one pool's basis on the Scope page in a real browser, and the workshop evaluates the new rules
(own server and DuckDB copy: the scope is store-wide)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from engine import store
from engine.access.users import get_user
from engine.allocation import whatif
from engine.insights import workshop
from engine.scope import versions
from engine.scope.model import PoolScope
from tests.e2e.conftest import Server, fill_settled, login, open_page, pick, private_server, screenshot
from ui.formats import money

pytestmark = pytest.mark.e2e
PERIOD = "2026-10"


@pytest.fixture(scope="module")
def own_server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with private_server(demo_db_path, tmp_path_factory.mktemp("e2e_scope")) as s:
        yield s


def _expected_retail(demo_db_path: Path, tmp_path: Path) -> str:
    """Retail's workshop charge with it_overhead by headcount, computed by the engine on a copy of the demo file."""
    copy = tmp_path / "expected.duckdb"
    shutil.copy(demo_db_path, copy)
    con = store.connect(copy)
    try:
        versions.save_pool(con, "demo_default", "it_overhead", PoolScope(basis="headcount"),
                           get_user(con, "fiona"), PERIOD, "expected")
        prep = whatif.prepare(con, PERIOD, "demo_default")
        charges = workshop.charges(prep, workshop.baseline_params(prep))
        names = workshop.unit_names(con)
    finally:
        con.close()
    retail = next(r for r in charges.iter_rows(named=True) if names.get(r["unit"]) == "Retail")
    return money(Decimal(retail["charge"]), compact=True)


def test_scope_page_changes_a_pools_basis_and_the_workshop_follows(page: Page, own_server: Server,
                                                                     demo_db_path: Path, tmp_path: Path) -> None:
    login(page, own_server.url, "fiona", DEMO_LOGINS["fiona"][0])
    open_page(page, "Allocation workshop")
    expect(page.get_by_text("IT service desk and architecture")).to_be_visible()
    expect(page.get_by_role("slider", name="Revenue weight")).to_have_count(1)

    open_page(page, "Scope and basis")
    expect(page.get_by_role("heading", name="Scope and basis")).to_be_visible()
    pick(page, page.get_by_role("combobox", name="Pool", exact=True), "IT service desk and architecture",
         typed="IT service desk")
    pick(page, page.get_by_role("combobox", name="Basis", exact=True), "Headcount")
    fill_settled(page, page.get_by_role("textbox", name="Why (recorded in the audit trail)").first,
                 "service desk by people")
    page.get_by_role("button", name="Save pool").click()
    expect(page.get_by_text("Saved scope v1 of demo_default")).to_be_visible(timeout=20_000)
    screenshot(page, "scope_basis_saved")

    open_page(page, "Allocation workshop")
    expect(page.get_by_role("heading", name="Allocation workshop")).to_be_visible()
    # the pool is now shared by headcount alone: its weight sliders are gone and the charges follow the engine
    expect(page.get_by_role("slider", name="Revenue weight")).to_have_count(0, timeout=20_000)
    # … it is a driver step now, so the workshop offers it as a driver select (issue 18), set to headcount
    expect(page.get_by_role("combobox", name="IT service desk and architecture")).to_have_value(
        "Headcount (per cost centre)")
    retail = page.get_by_test_id("stMetric").filter(has_text="Retail").get_by_test_id("stMetricValue")
    expect(retail).to_have_text(_expected_retail(demo_db_path, tmp_path), timeout=20_000)
    screenshot(page, "scope_basis_workshop")
