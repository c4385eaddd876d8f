"""A FinOps lead drags a FOCUS export with one bad row into the Ingest page, reads the validation report, then
drops the same file again and is told nothing changed."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from tests.conftest import SAMPLES
from tests.e2e.conftest import Server, login, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _focus_with_one_bad_row(tmp_path: Path) -> tuple[Path, int]:
    rows = list(csv.reader(io.StringIO((SAMPLES / "focus_1.0_sample_1000rows.csv").read_text(encoding="utf-8-sig"))))
    header, body = rows[0], rows[1:41]
    body[7][header.index("BilledCost")] = "twelve dollars"
    path = tmp_path / "focus_october_with_a_typo.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *body])
    return path, len(body)


def _metric(page: Page, label: str) -> str:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue").first.inner_text()


def test_upload_validation_report_then_noop(page: Page, server: Server, tmp_path: Path) -> None:
    path, n = _focus_with_one_bad_row(tmp_path)
    login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Ingest").click()
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    wait_idle(page)
    page.get_by_role("button", name="Load", exact=True).click()
    expect(page.get_by_text("Validation report")).to_be_visible(timeout=60_000)
    wait_idle(page)
    for label, shown in (("Rows read", f"{n:,}"), ("Loaded", f"{n - 1:,}"), ("Quarantined", "1")):
        expect(page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue").first
               ).to_have_text(shown)   # web-first: waits for the rerun that draws it
    screenshot(page, "ingest_validation_report")

    page.get_by_role("button", name="Load", exact=True).click()
    expect(page.get_by_text("already loaded as batch")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("nothing changed")).to_be_visible()
    screenshot(page, "ingest_repeat_noop")
