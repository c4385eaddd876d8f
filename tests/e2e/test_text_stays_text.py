"""Text from files and people stays text in a real browser: Markdown and HTML payloads in a service name, a scenario
name and a rule version's reason show literally, the viewer's browser fetches nothing they point at, st.dataframe
offers no raw CSV download, and the app's own download carries no live formula.

Own server on its own copy of the demo store: the payloads are written into the copy before the server opens it.
A tiny HTTP listener on 127.0.0.1 records every request a payload could cause."""

from __future__ import annotations

import csv
import io
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from data.generate import DEMO_LOGINS
from engine import store
from engine.access.users import get_user
from engine.costmodels.presets import PRESETS
from engine.costmodels.scenarios import save_scenario
from engine.insights import explorer, overview
from engine.insights.explorer import Filters
from tests.e2e.conftest import Server, login, screenshot, start_server, stop_server, wait_idle
from ui.formats import unlinked

pytestmark = pytest.mark.e2e


@dataclass
class Stage:
    server: Server
    hits: list[str]
    svc_md: str
    svc_html: str
    svc_formula: str
    scenario: str
    reason: str
    path: list[str] = field(default_factory=list)   # omar's business unit, cost centre, application


def _listener() -> tuple[ThreadingHTTPServer, list[str]]:
    hits: list[str] = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, hits


@pytest.fixture(scope="module")
def stage(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    httpd, hits = _listener()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    svc_md, svc_html = f"![svc]({base}/x.png)", f"<img src={base}/y.png>"
    svc_formula = f'=HYPERLINK("{base}/h","open")'
    scenario = f"![sc]({base}/s.png) :red[sc]"
    reason = f"<img src={base}/r.png> ![r]({base}/r2.png) $x$ see {base}/phish or write to ops@example.com"
    d = tmp_path_factory.mktemp("e2e_plain")
    shutil.copy(demo_db_path, d / "app.duckdb")
    con = store.connect(d / "app.duckdb")
    try:
        omar = get_user(con, "omar")
        assert omar is not None
        period = overview.periods(con)[-1]
        path: dict[str, str] = {}
        for level in ("business_unit", "cost_center", "application"):
            rows = explorer.breakdown(con, omar, period, level, Filters(dict(path)))
            path[level] = rows.sort("cost", descending=True)["name"][0]
        services = explorer.breakdown(con, omar, period, "service_name", Filters(dict(path))).sort(
            "cost", descending=True)["name"].to_list()
        assert len(services) >= 3, services
        # Renamed in the latest month only: the largest has no previous month, so it is the biggest mover.
        for old, new in zip(services[:3], (svc_md, svc_html, svc_formula), strict=True):
            con.execute("UPDATE cost_line SET service_name = ? WHERE service_name = ? AND billing_period = ?",
                        [new, old, period])
        save_scenario(con, PRESETS[-1].model_copy(update={"name": scenario}), "fiona")
        con.execute("UPDATE rule_set SET reason = ?", [reason])
    finally:
        con.close()
    server = start_server(d / "app.duckdb", d / "streamlit.log")
    yield Stage(server, hits, svc_md, svc_html, svc_formula, scenario, reason, list(path.values()))
    stop_server(server)
    httpd.shutdown()


def _metric(page: Page, label: str) -> Locator:
    return page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))


def _open(page: Page, name: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    wait_idle(page)


def _choose(page: Page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    match = [i for i, t in enumerate(options.all_inner_texts()) if t.strip() == option]
    assert match, options.all_inner_texts()
    options.nth(match[0]).click()
    wait_idle(page)


def _no_toolbar_download(page: Page) -> None:
    table = page.get_by_test_id("stDataFrame").first
    table.hover()
    expect(page.get_by_test_id("stElementToolbar").first).to_be_attached()
    expect(page.get_by_role("button", name="Download as CSV")).to_have_count(0)


def test_app_owner_sees_payloads_as_text_and_downloads_no_formula(page: Page, stage: Stage) -> None:
    login(page, stage.server.url, "omar", DEMO_LOGINS["omar"][0])
    _open(page, "Cost explorer")
    for level, name in zip(("business unit", "cost centre", "application"), stage.path, strict=True):
        _choose(page, f"Drill into {level}", name)
    mover = _metric(page, "Biggest mover").get_by_test_id("stMetricValue")
    expect(mover).to_have_text(unlinked(stage.svc_md))   # the same text; invisible joiners stop autolinking
    expect(mover.locator("img")).to_have_count(0)
    _no_toolbar_download(page)
    screenshot(page, "explorer_payload_as_text")

    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").first.click()
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    names = [r[0] for r in rows[1:]]
    assert f"'{stage.svc_formula}" in names and stage.svc_md in names and stage.svc_html in names
    for row in rows:
        for cell in row:
            try:
                float(cell)
                continue                                    # a number (a negative change stays a number)
            except ValueError:
                pass
            stripped = cell.lstrip(" \t\xa0\u2007\u202f\u3000")
            assert cell.startswith("'") or not stripped.startswith(("=", "+", "-", "@", "|", "\t", "\r")), cell

    _choose(page, "Drill into service", stage.svc_html)
    crumb = page.get_by_role("button", name=f"› {unlinked(stage.svc_html)}")
    expect(crumb).to_be_visible()
    expect(crumb).to_have_text(f"› {unlinked(stage.svc_html)}")
    assert stage.hits == [], stage.hits


def test_finops_sees_scenario_and_reason_as_text(page: Page, stage: Stage) -> None:
    login(page, stage.server.url, "fiona", DEMO_LOGINS["fiona"][0])
    wait_idle(page)
    # the overview reads the approved house models only (docs/glossary.md): the saved scenario is a draft, shown on
    # Scenario comparison
    expect(page.get_by_role("combobox", name="Chargeback model for recovery")).to_have_value(
        "Full-recovery chargeback")
    _open(page, "Scenario comparison")
    wait_idle(page)
    if not _metric(page, unlinked(stage.scenario)).count():          # not among the default choices: add it
        page.get_by_role("combobox", name="Scenarios (2–5)").click()
        page.get_by_role("option").filter(has_text=stage.scenario).first.click()
        page.keyboard.press("Escape")
        wait_idle(page)
    expect(_metric(page, unlinked(stage.scenario))).to_be_visible()
    # the scenario's name as a table cell too (the "where the money went" table), as text
    expect(page.get_by_text(unlinked(stage.scenario), exact=True).first).to_be_visible()
    expect(page.locator("[data-testid='stMain'] img")).to_have_count(0)
    screenshot(page, "scenarios_payload_as_text")

    _open(page, "Rule versions")
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="reason:")
    # the same text, with plain()'s invisible word joiners where remark-gfm would have linked a bare URL or address
    expect(caption).to_contain_text(f"reason: {unlinked(stage.reason)}")
    expect(caption.locator("img")).to_have_count(0)
    expect(caption.locator("a")).to_have_count(0)                  # `see http://…/phish` is not a link
    _no_toolbar_download(page)
    screenshot(page, "rules_payload_as_text")
    page.wait_for_load_state("networkidle")
    assert stage.hits == [], stage.hits
