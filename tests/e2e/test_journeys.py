"""One full journey per persona, in a real browser against a real server and a real DuckDB file."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Locator, Page, expect

from data.generate import DEMO_LOGINS
from tests.e2e.conftest import Server, login, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _metric(page: Page, label: str) -> Locator:
    metric = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label,
                                                                                                       exact=True))
    return metric.get_by_test_id("stMetricValue")


def _metric_value(page: Page, label: str) -> str:
    return _metric(page, label).inner_text()


def _open(page: Page, server: Server, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    wait_idle(page)


def test_finops_lead_runs_a_workshop(page: Page, server: Server) -> None:
    login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
    _open(page, server, "Allocation workshop")
    expect(page.get_by_role("heading", name="Allocation workshop")).to_be_visible()
    retail_before = _metric_value(page, "Retail")
    total_before = _metric_value(page, "Total charged")

    slider = page.get_by_role("slider").first  # the first driver weight (headcount)
    thumb = page.get_by_test_id("stSliderThumbValue").first
    start = int(thumb.inner_text())
    retail = page.get_by_test_id("stMetric").filter(has_text="Retail").get_by_test_id("stMetricValue")
    for _ in range(6):  # a key press that lands while the fragment reruns may be absorbed: press again, as a person
        slider.focus()
        slider.press("ArrowLeft")
        try:
            expect(retail).not_to_have_text(retail_before, timeout=10_000)
            break
        except AssertionError:
            continue
    expect(retail).not_to_have_text(retail_before, timeout=10_000)
    wait_idle(page)
    value = thumb.inner_text().strip()
    assert int(value) < start
    retail_after = _metric_value(page, "Retail")
    expect(_metric(page, "Total charged")).to_have_text(total_before)  # winners and losers, same total
    query = parse_qs(urlparse(page.url).query)
    assert query.get("w_it_overhead_headcount") == [value], page.url
    screenshot(page, "workshop_after_slider")

    shared_link = page.url
    page.goto("about:blank")
    page.goto(shared_link)  # the link pasted into the meeting chat
    wait_idle(page)
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Retail").get_by_test_id("stMetricValue")).to_have_text(
        retail_after, timeout=20_000)
    assert re.search(rf"w_it_overhead_headcount={value}(&|$)", page.url)

    page.get_by_label("Why this change (recorded in the audit trail)").fill(f"Room agreed headcount weight {value}")
    page.get_by_role("button", name="Save as draft rule version").click()
    expect(page.get_by_text("is pending approval")).to_be_visible(timeout=20_000)
    screenshot(page, "workshop_saved_draft")


def test_app_owner_drills_into_a_spike_and_downloads(page: Page, server: Server, tmp_path) -> None:
    login(page, server.url, "omar", DEMO_LOGINS["omar"][0])
    expect(page.get_by_role("heading", name="Cost explorer")).to_be_visible()
    page.get_by_role("combobox", name="Billing period").click()
    page.get_by_role("option", name="2026-06").click()  # the month APP018's compute tripled (docs/demo-data.md)
    wait_idle(page)
    for label, value in (("Drill into business unit", "Digital"), ("Drill into cost centre", "Mobile Apps")):
        page.get_by_role("combobox", name=label).click()
        page.get_by_role("option", name=value).click()
        wait_idle(page)
    expect(page.get_by_role("button", name="› Mobile Apps")).to_be_visible()
    # the breadcrumb is drawn before the metrics of the same run: wait for the metric itself (seen in a clean-clone
    # run under load: the business-unit level's mover, "Mobile Apps", still on screen when read at once)
    expect(_metric(page, "Biggest mover")).to_have_text("Mobile App Backend", timeout=15_000)
    screenshot(page, "explorer_spike")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / "costs.csv"
    dl.value.save_as(path)
    text = path.read_text()
    assert text.splitlines()[0] == "name,cost,previous,delta"
    assert "Mobile App Backend" in text
