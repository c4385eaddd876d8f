"""Issue 18 acceptance: a FinOps lead switches the network step's driver from bandwidth to headcount in the
workshop; the charges move to what the engine computes, the total charged is unchanged, and the saved draft rule
version holds the new driver."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import polars as pl
import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from engine import store
from engine.allocation import whatif
from engine.insights import workshop
from engine.insights.workshop import WorkshopParams
from engine.rules.model import UNALLOCATED
from tests.e2e.conftest import Server, login, open_page, private_server, screenshot, stop_server, wait_idle
from ui.formats import money

PERIOD = "2026-10"
REASON = "Room agreed: network by headcount"
HEADCOUNT = WorkshopParams(drivers={"network": ("headcount", "cost_center")})


@pytest.fixture(scope="module")
def own_server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with private_server(demo_db_path, tmp_path_factory.mktemp("e2e_workshop_drivers")) as s:
        yield s


def _engine(demo_db_path: Path, tmp_path: Path) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per business-unit name, the charge under the approved rules and with network by headcount (engine, copy)."""
    copy = tmp_path / "expected.duckdb"
    shutil.copy(demo_db_path, copy)
    con = store.connect(copy)
    try:
        prep = whatif.prepare(con, PERIOD, "demo_default")
        names = workshop.unit_names(con)
        out = []
        for params in (workshop.baseline_params(prep), HEADCOUNT):
            c = workshop.charges(prep, params).filter(pl.col("unit") != UNALLOCATED)
            out.append({names.get(u, u): Decimal(v) for u, v in c.select("unit", "charge").iter_rows()})
    finally:
        con.close()
    return out[0], out[1]


def _value(page: Page, label: str):  # noqa: ANN202
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return metric.get_by_test_id("stMetricValue")


def test_finops_lead_switches_network_to_headcount(page: Page, own_server: Server, demo_db_path: Path,
                                                   tmp_path: Path) -> None:
    before, after = _engine(demo_db_path, tmp_path)
    assert sum(before.values()) == sum(after.values())          # the engine's own conservation, for the record
    moved = [n for n in after if after[n] != before.get(n)]
    assert "Retail" in moved

    login(page, own_server.url, "fiona", DEMO_LOGINS["fiona"][0])
    open_page(page, "Allocation workshop")
    expect(page.get_by_role("heading", name="Allocation workshop")).to_be_visible()
    total = money(sum(before.values(), Decimal(0)))
    expect(_value(page, "Total charged")).to_have_text(total)
    for name in moved:   # the page shows what the engine computes, unit by unit
        expect(_value(page, name)).to_have_text(money(before[name], compact=True))

    page.get_by_role("combobox", name="Enterprise network").click()
    page.get_by_role("option", name="Headcount (per cost centre)").click()
    wait_idle(page)
    for name in moved:   # the charges move to the engine's figures …
        expect(_value(page, name)).to_have_text(money(after[name], compact=True))
    expect(_value(page, "Total charged")).to_have_text(total)   # … and every cent is still charged once
    # the URL is the scenario (Streamlit writes a select's shown label): the link opens the same numbers
    assert parse_qs(urlparse(page.url).query).get("d_network") == ["Headcount (per cost centre)"], page.url
    screenshot(page, "workshop_network_by_headcount")
    page.goto(page.url)
    wait_idle(page)
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)
    for name in moved:
        expect(_value(page, name)).to_have_text(money(after[name], compact=True))

    page.get_by_label("Why this change (recorded in the audit trail)").fill(REASON)
    page.get_by_role("button", name="Save as draft rule version").click()
    expect(page.get_by_text("is pending approval")).to_be_visible(timeout=20_000)

    stop_server(own_server)   # DuckDB has one writer: read what the click wrote once the server is gone
    con = duckdb.connect(str(own_server.db_path), read_only=True)
    try:
        status, author, body = con.execute("SELECT status, author, body::VARCHAR FROM rule_set WHERE reason = ?",
                                           [REASON]).fetchall()[0]
    finally:
        con.close()
    network = next(s for s in json.loads(body)["steps"] if s["id"] == "network")
    assert (status, author) == ("pending", "fiona")
    assert network["method"] == {**network["method"], "kind": "driver", "driver": "headcount"}
    assert network["target_kind"] == "cost_center"
