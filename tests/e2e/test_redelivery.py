"""In a real browser: FinOps loads a September bill, then a smaller file for the same month. The page does not
replace the month silently: it shows what the file replaces (the batch, 1,000 rows now, 20 in the file, the drop
warning); after *Replace* the batch history holds both batches, the first one replaced."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from tests.conftest import needs_samples
from tests.e2e.conftest import Server, login, private_server, screenshot, wait_idle
from tests.unit.redelivery_files import focus_month

pytestmark = [pytest.mark.e2e, needs_samples]


@pytest.fixture(scope="module")
def server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: the journey loads and replaces a month of cost lines."""
    with private_server(demo_db_path, tmp_path_factory.mktemp("redelivery")) as s:
        yield s


def _upload_and_load(page: Page, path: Path) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    wait_idle(page)
    page.get_by_role("button", name="Load", exact=True).click()


def test_a_smaller_redelivery_is_confirmed_and_both_batches_are_in_history(page: Page, server: Server,
                                                                          tmp_path: Path) -> None:
    full = focus_month(tmp_path / "sep_full.csv", 1000)
    short = focus_month(tmp_path / "sep_short.csv", 20)
    login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Ingest").click()
    wait_idle(page)

    _upload_and_load(page, full)
    expect(page.get_by_text("sep_full.csv: loaded 1000 rows into cost_line")).to_be_visible(timeout=90_000)
    _upload_and_load(page, short)
    expect(page.get_by_text(re.compile(r"sep_short\.csv: not loaded — it would replace loaded billing months of "
                                       r"batch"))).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile(r"would replace earlier rows of batch \S+ \(1,000 rows of sep_full\.csv"))
           ).to_be_visible()
    expect(page.get_by_text("September 2024 (AWS 1234567890123) drops from $13.00 to $0.00 (−100 %)",
                            exact=False)).to_be_visible()
    expect(page.get_by_text("This file replaces")).to_be_visible()
    screenshot(page, "redelivery_needs_confirmation")

    page.get_by_role("button", name="Replace", exact=True).click()
    expect(page.get_by_text("sep_short.csv: loaded 20 rows into cost_line")).to_be_visible(timeout=90_000)
    expect(page.get_by_text(re.compile(r"sep_short\.csv: replaces earlier rows of batch"))).to_be_visible()

    page.get_by_role("tab", name="Batch history").click()
    wait_idle(page)
    page.get_by_role("combobox", name="Batch").click()
    options = page.get_by_role("option")
    expect(options.filter(has_text="sep_short.csv")).to_have_count(1)
    expect(options.filter(has_text="sep_full.csv")).to_have_count(1)
    options.filter(has_text="sep_full.csv").click()
    wait_idle(page)
    expect(page.get_by_text("This batch is replaced; only a loaded batch can be rolled back.")).to_be_visible()
    screenshot(page, "redelivery_history_both_batches")
