"""Fiona opens Month close and downloads the SAP journal: the file balances per document and is byte for byte what
`python -m engine journal --layout sap` writes for the same store.

Runs its own server on its own copy of the demo store: the CLI writes the expected file before the server opens the
store (DuckDB allows one writer), and no other browser test can post a newer run of the month in between."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from data.generate import DEMO_LOGINS
from tests.e2e.conftest import ROOT, Server, login, start_server, stop_server, wait_idle

pytestmark = pytest.mark.e2e
PERIOD = "2026-10"


@pytest.fixture(scope="module")
def journal_server(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, bytes]]:
    work = tmp_path_factory.mktemp("journal_e2e")
    db = work / "app.duckdb"
    shutil.copy(demo_db_path, db)
    out = work / "cli_sap.csv"
    done = subprocess.run([sys.executable, "-m", "engine", "journal", "--db", str(db), "--period", PERIOD,
                           "--layout", "sap", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    server = start_server(db, work / "streamlit.log")
    yield server, out.read_bytes()
    stop_server(server)


def test_fiona_downloads_the_sap_journal_from_month_close(browser: Browser,
                                                          journal_server: tuple[Server, bytes]) -> None:
    server, cli_bytes = journal_server
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    try:
        login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Month close").click()
        wait_idle(page)
        expect(page.get_by_role("heading", name="Month close")).to_be_visible()
        expect(page.get_by_role("heading", name="Journals")).to_be_visible()
        button = page.get_by_role("button", name="SAP FI posting")
        expect(button).to_be_visible()
        with page.expect_download() as dl:
            button.click()
        assert dl.value.suggested_filename.startswith(f"journal_{PERIOD}_") and \
            dl.value.suggested_filename.endswith("_sap_fi.csv")
        data = Path(dl.value.path()).read_bytes()
    finally:
        context.close()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    per_document: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        per_document[row["REF_DOC_NO"]] += Decimal(row["AMT_DOCCUR"])
    assert len(per_document) >= 2 and set(per_document.values()) == {Decimal("0.00")}
    assert {r["CURRENCY"] for r in rows} == {"USD"} and {r["FIS_PERIOD"] for r in rows} == {"10"}
    assert data == cli_bytes
