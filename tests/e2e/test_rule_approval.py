"""FinOps approves a rule version after reading its impact, in a real browser against a real server.

Own server on its own copy of the demo store: before it starts, the admin writes and submits a version that moves
IT overhead from 60/40 to 30/70 headcount/revenue, and the engine computes the impact the page must show. Fiona
(finops, not the author) opens the pending version, reads the readable diff and the impact per business unit
(each figure equal to the engine's), enters a reason and approves; the version then shows approved with it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from engine import store
from engine.access.users import get_user
from engine.allocation.impact import impact
from engine.rules import model, versions
from tests.e2e.conftest import Server, login, screenshot, start_server, stop_server, wait_idle
from ui.formats import money

pytestmark = pytest.mark.e2e

NAME = "demo_default"
COMMENT = "Checked the impact per business unit with the BU controllers"


@dataclass
class Staged:
    server: Server
    db: Path
    version: int
    rows: list[tuple[str, str, str, str]]   # business unit, in force, proposed, change — as the page formats them
    total: str


@pytest.fixture(scope="module")
def staged(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    d = tmp_path_factory.mktemp("e2e_rule_approval")
    db = d / "app.duckdb"
    shutil.copy(demo_db_path, db)
    con = store.connect(db)
    try:
        body = versions.as_of(con, NAME, "2026-10").rule_set.body()
        for step in body["steps"]:
            if step["id"] == "it_overhead":
                step["method"]["weights"] = {"headcount": 0.3, "revenue": 0.7}
        version = versions.create_draft(con, model.from_data(body), "admin", "IT overhead by revenue", "2026-11")
        versions.submit(con, NAME, version, "admin")
        result = impact(con, NAME, version, get_user(con, "fiona"))
        assert result.conserves
        rows = [(bu, money(c), money(p), money(x)) for bu, c, p, x in result.by_business_unit.select(
            "business_unit", "current", "proposed", "delta").iter_rows()]
        total = money(result.total_proposed)
    finally:
        con.close()
    server = start_server(db, d / "streamlit.log")
    yield Staged(server, db, version, rows, total)
    stop_server(server)


def test_finops_approves_a_rule_version_after_reading_its_impact(page: Page, staged: Staged) -> None:
    login(page, staged.server.url, "fiona", DEMO_LOGINS["fiona"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Rule versions").click()
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Version")).to_have_value(f"{NAME} v{staged.version}")
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="reason:")
    expect(caption).to_contain_text("Status pending · author admin")

    # the readable diff against the version in force
    changes = page.locator(".st-key-rv_changes")
    expect(changes).to_contain_text("step 5 'IT service desk and architecture' weight of headcount 0.6 → 0.3")
    expect(changes).to_contain_text("step 5 'IT service desk and architecture' weight of revenue 0.4 → 0.7")
    expect(changes).to_contain_text("effective_from 2025-11 → 2026-11")

    # the impact per business unit: every row the engine computed, with its figures
    table = page.locator(".st-key-rv_impact_bu").get_by_role("table")
    body_rows = table.locator("tbody tr")
    expect(body_rows).to_have_count(len(staged.rows))
    for i, (bu, current, proposed, change) in enumerate(staged.rows):
        cells = body_rows.nth(i).locator("td")
        expect(cells).to_have_text([bu, current, proposed, change])
    assert any(change not in ("$0.00", "-$0.00") for *_, change in staged.rows)
    proposed_metric = page.get_by_test_id("stMetric").filter(has_text=f"Proposed (v{staged.version})")
    expect(proposed_metric.get_by_test_id("stMetricValue")).to_have_text(staged.total)
    conservation = page.get_by_test_id("stMetric").filter(has_text="Conservation")
    expect(conservation.get_by_test_id("stMetricValue")).to_have_text("holds")
    screenshot(page, "rule_approval_impact")

    # approving without a reason is refused; with one it goes through
    approve = page.get_by_test_id("stForm").filter(has_text="Approval comment")
    approve.get_by_role("button", name="Approve").click()
    wait_idle(page)
    expect(page.get_by_text("Say why you approve")).to_be_visible(timeout=30_000)
    approve.get_by_role("textbox", name="Approval comment").fill(COMMENT)
    approve.get_by_role("button", name="Approve").click()
    wait_idle(page)
    expect(caption).to_contain_text("Status approved · author admin · approved by fiona", timeout=60_000)
    expect(page.get_by_text(f"Approver's comment: {COMMENT}")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(page, "rule_approval_approved")

    # the store agrees: stop the server (DuckDB has one writer) and read what the click wrote
    stop_server(staged.server)
    con = duckdb.connect(str(staged.db), read_only=True)
    try:
        assert con.execute("SELECT status, approver, approval_comment FROM rule_set WHERE name = ? AND version = ?",
                           [NAME, staged.version]).fetchall() == [("approved", "fiona", COMMENT)]
        assert con.execute("SELECT actor, detail->>'reason' FROM audit_event WHERE action = 'rule.approve'"
                           " AND entity_id = ?", [f"{NAME}@{staged.version}"]).fetchall() == [("fiona", COMMENT)]
    finally:
        con.close()
