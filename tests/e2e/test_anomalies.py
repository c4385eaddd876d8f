"""Anomalies in a real browser against a real server: the executive sees the demo's 2026-06 spike on the overview,
the app owner opens it and reaches the resource behind it day by day, and an overview left open shows a new flag
the moment a FinOps lead loads a bill with a spike in another tab — without a reload.

The server runs on its own copy of the demo store (the ingest here must not change what other browser tests read).
Expected figures are read from that copy before the server opens it: the server then holds DuckDB's file lock, and
the bill goes in through the Ingest page, as a person would load it."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from data.generate import DEMO_LOGINS
from engine import store
from engine.access.users import get_user
from engine.insights import explorer
from engine.insights.anomalies import spend_split, workflow
from tests.e2e.conftest import Server, login, screenshot, start_server, stop_server, wait_idle
from ui.formats import money

pytestmark = pytest.mark.e2e

BURST = "i-0e2e-burst"          # the resource of the bill loaded during the test


@dataclass
class Expected:
    open_count: int
    resource: str               # the top line of Mobile App Backend's 2026-06 anomaly, as omar sees it
    resource_cost: str
    resource_quantity: str
    resource_unit_price: str
    cause: str                  # the "Why it moved" sentence of that anomaly, as the page words it
    usage: str                  # its usage part and the change it is part of, as the page shows them
    change: str


@dataclass
class Stage:
    server: Server
    expected: Expected


@pytest.fixture(scope="module")
def stage(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    path = tmp_path_factory.mktemp("e2e_anomalies") / "app.duckdb"
    shutil.copy(demo_db_path, path)
    con = store.connect(path)
    try:
        omar = get_user(con, "omar")
        incident = workflow.list_anomalies(con, omar, "active", exclude_rules=("budget_threshold",)).row(0, named=True)
        assert incident["scope_id"] == "APP018" and incident["period"] == "2026-06"
        resource = workflow.drivers(con, omar, incident["anomaly_id"])["resource_id"][0]
        assert omar is not None
        daily = explorer.resource_daily(con, omar, "2026-06", resource)
        cost, quantity = float(daily["cost"].sum()), float(daily["quantity"].sum())
        why = spend_split.split_spend(con, omar, incident["anomaly_id"])
        assert why.main == "usage" and sum(why.parts.values()) == why.change > 0

        def signed(cents: int) -> str:
            return ("+" if cents >= 0 else "") + money(Decimal(cents).scaleb(-2))

        expected = Expected(workflow.summary(con, get_user(con, "eve")).active, resource, money(cost),
                            f"{quantity:,.2f}", f"{cost / quantity:,.6f}", why.sentence(signed),
                            signed(why.parts["usage"]), signed(why.change))
    finally:
        con.close()
    server = start_server(path, tmp_path_factory.mktemp("e2e_anomalies_logs") / "streamlit.log")
    yield Stage(server, expected)
    stop_server(server)


def _metric(page: Page, label: str) -> Locator:
    metric = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label,
                                                                                                       exact=True))
    return metric.get_by_test_id("stMetricValue")


def _texts(page: Page, text: str) -> Locator:
    return page.get_by_test_id("stText").filter(has_text=text)


def _bill_with_a_spike(path: Path) -> Path:
    """November 2026, after the demo's last month: one new instance for Mobile App Backend, $500 a day and one
    day of $20,000 — a new resource (and a new account) whose spend passes everything the demo flagged."""
    header = ["ServiceProviderName", "BillingAccountId", "SubAccountId", "BillingCurrency", "BillingPeriodStart",
              "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ServiceName",
              "ResourceId", "SkuId", "ConsumedQuantity", "ConsumedUnit", "Tags"]
    rows = []
    for i in range(14):
        d = date(2026, 11, 1) + timedelta(days=i)
        cost = 20_000 if d == date(2026, 11, 12) else 500
        rows.append(["AWS", "E2E-BILLING", "e2e-sandbox", "USD", "2026-11-01", d.isoformat(),
                     (d + timedelta(days=1)).isoformat(), "Usage", f"{cost:.2f}", f"{cost:.2f}",
                     "Amazon Elastic Compute Cloud", BURST, "BoxUsage:p5.48xlarge", f"{cost / 98.32:.4f}", "Hours",
                     '{"CostCenter": "CC016", "Application": "APP018"}'])
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def test_the_executive_sees_the_june_spike_on_the_overview(page: Page, stage: Stage) -> None:
    login(page, stage.server.url, "eve", DEMO_LOGINS["eve"][0])
    expect(page.get_by_role("heading", name="Executive overview")).to_be_visible()
    expect(page.get_by_role("heading", name="Open anomalies")).to_be_visible(timeout=30_000)
    expect(_metric(page, "Open anomalies")).to_have_text(f"{stage.expected.open_count:,}")
    expect(_texts(page, "Mobile App Backend").first).to_be_visible()
    expect(_texts(page, "2026-06 · Month over month").first).to_be_visible()
    _texts(page, "Mobile App Backend").first.scroll_into_view_if_needed()
    screenshot(page, "anomalies_overview_executive")


def test_the_app_owner_opens_the_flag_and_reaches_the_resource_by_day(page: Page, stage: Stage) -> None:
    login(page, stage.server.url, "omar", DEMO_LOGINS["omar"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Anomalies").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Anomalies", exact=True)).to_be_visible()
    expect(_texts(page, "Application: Mobile App Backend (APP018)")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="What carries it")).to_be_visible()
    # why it moved: usage is the cause, with the store's figures
    expect(page.get_by_role("heading", name="Why it moved")).to_be_visible()
    cause = page.get_by_test_id("stAlert").filter(has_text="against").get_by_test_id("stMarkdownContainer")
    expect(cause).to_have_text(stage.expected.cause)
    expect(cause).to_contain_text(f"usage: {stage.expected.usage} of {stage.expected.change}")
    screenshot(page, "anomalies_app_owner_detail")
    expect(page.get_by_role("heading", name="Resource day by day")).to_be_visible()
    expect(page.get_by_text("Daily effective cost, consumed quantity and unit price in 2026-06.")).to_be_visible()
    expect(_metric(page, "Resource cost in the month")).to_have_text(stage.expected.resource_cost)
    expect(_metric(page, "Quantity")).to_have_text(stage.expected.resource_quantity)
    expect(_metric(page, "Average unit price")).to_have_text(stage.expected.resource_unit_price)
    expect(page.get_by_role("combobox", name="Resource", exact=True)).to_have_value(stage.expected.resource)
    # app owners triage their own anomalies: the form is there; executives (above) get none
    expect(page.get_by_role("button", name="Apply")).to_be_visible()
    page.get_by_role("heading", name="Resource day by day").scroll_into_view_if_needed()
    screenshot(page, "anomalies_app_owner_resource_by_day")


def test_an_open_overview_shows_a_new_flag_after_an_ingest(page: Page, browser: Browser, stage: Stage,
                                                          browser_context_args: dict[str, object],
                                                          tmp_path: Path) -> None:
    login(page, stage.server.url, "eve", DEMO_LOGINS["eve"][0])
    expect(page.get_by_role("heading", name="Open anomalies")).to_be_visible(timeout=30_000)
    before = _metric(page, "Open anomalies").inner_text()
    expect(_texts(page, BURST)).to_have_count(0)

    other = browser.new_context(**browser_context_args)    # the FinOps lead, in another browser
    try:
        tab = other.new_page()
        login(tab, stage.server.url, "fiona", DEMO_LOGINS["fiona"][0])
        tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Ingest").click()
        wait_idle(tab)
        tab.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(_bill_with_a_spike(tmp_path /
                                                                           "aws-november.csv")))
        wait_idle(tab)
        tab.get_by_role("button", name="Load", exact=True).click()
        expect(tab.get_by_text("new anomalies")).to_be_visible(timeout=90_000)
        screenshot(tab, "anomalies_ingest_raises_flags")
    finally:
        other.close()

    # the executive's page was never reloaded: its anomaly panel polls and redraws by itself
    expect(_texts(page, BURST)).to_be_visible(timeout=60_000)
    expect(_metric(page, "Open anomalies")).not_to_have_text(before)
    assert int(_metric(page, "Open anomalies").inner_text().replace(",", "")) > int(before.replace(",", ""))
    _texts(page, BURST).scroll_into_view_if_needed()
    screenshot(page, "anomalies_overview_live_after_ingest")
