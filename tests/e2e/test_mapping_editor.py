"""A FinOps lead maps a real OCI cost report in the Ingest page's column mapping editor (no code): picks the
columns, the billing period from the usage start, a constant provider and a tag column, previews the rows as they
will land, saves the profile and loads the file with it; the page shows every line loaded and the bill's total."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from data.generate import DEMO_LOGINS
from tests.conftest import SAMPLES
from tests.e2e.conftest import login, private_server, screenshot, wait_idle

pytestmark = pytest.mark.e2e
OCI = SAMPLES / "oci_cost_report_sample.csv"
PICKS = {   # canonical column (its selectbox is labelled "<column> *": required) → the option picked
    "charge_period_start": "lineItem/intervalUsageStart", "charge_period_end": "lineItem/intervalUsageEnd",
    "billed_cost": "cost/myCost", "effective_cost": "cost/myCost", "billing_currency": "cost/currencyCode",
    "billing_period": "month of charge_period_start", "provider": "= a constant",
}


def _pick(page: Page, column: str, option: str) -> None:
    # the accessible name is the label as written: the column, a space and the star escaped for Markdown
    box = page.get_by_role("combobox", name=re.compile(rf"^{re.escape(column)} \\?\*$"))
    for attempt in range(3):   # a rerun that lands while the list is open re-renders it: open it again
        wait_idle(page)
        box.click()
        page.keyboard.type(option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    wait_idle(page)
    expect(box).to_have_value(option)


def _metric(page: Page, label: str) -> object:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue").first


def test_map_preview_save_and_load_an_oci_report(page: Page, demo_db_path: Path, tmp_path: Path) -> None:
    with OCI.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    total = sum((Decimal(r["cost/myCost"]) for r in rows), Decimal(0))
    (tmp_path / "server").mkdir()
    with private_server(demo_db_path, tmp_path / "server") as server:
        login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Ingest").click()
        wait_idle(page)
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(OCI))
        wait_idle(page)
        page.get_by_test_id("stExpander").filter(has_text="Column mapping editor").get_by_text(
            "Column mapping editor").click()
        page.get_by_role("textbox", name="Profile name").fill("oci e2e")
        page.get_by_role("textbox", name="Profile name").press("Enter")
        wait_idle(page)
        for column, option in PICKS.items():
            _pick(page, column, option)
        page.get_by_role("textbox", name="provider: constant value").fill("Oracle")
        page.get_by_role("textbox", name="provider: constant value").press("Enter")
        wait_idle(page)
        page.get_by_role("combobox", name=re.compile("Tag columns$")).click()
        page.keyboard.type("tags/OracleInternalReserved.CostCenter")
        page.get_by_role("option", name="tags/OracleInternalReserved.CostCenter", exact=True).click()
        page.keyboard.press("Escape")
        wait_idle(page)

        page.get_by_role("button", name="Preview").click()
        expect(_metric(page, "Would load")).to_have_text(f"{len(rows):,}", timeout=60_000)
        expect(_metric(page, "Would quarantine")).to_have_text("0")
        expect(page.get_by_text("the first rows as they will be stored")).to_be_visible()
        screenshot(page, "mapping_editor_preview")

        page.get_by_role("textbox", name="Why (saved with the version)").fill("OCI through the editor")
        page.get_by_role("textbox", name="Why (saved with the version)").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_text("Saved 'oci e2e' as version 1.")).to_be_visible()
        wait_idle(page)

        page.get_by_role("button", name="Load file with the saved profile").click()
        expect(_metric(page, "Loaded rows")).to_have_text(f"{len(rows):,}", timeout=60_000)
        expect(_metric(page, "Billed cost loaded (USD)")).to_have_text(f"{round(total, 2):,.2f}")
        screenshot(page, "mapping_editor_loaded")
