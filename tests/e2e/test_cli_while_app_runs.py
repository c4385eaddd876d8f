"""A scheduled job while people use the app: with FinOps signed in and the Ingest page open, `python -m engine
ingest` (a relative path, from another folder), `audit verify` and a `--json` read all exit 0 — the app's job runner
runs them on its own connection — and the open session, after navigating, sees the new batch in its history."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, expect

from data.generate import DEMO_LOGINS
from tests.conftest import SAMPLES
from tests.e2e.conftest import ROOT, login, open_page, private_server, screenshot, wait_idle

pytestmark = pytest.mark.e2e
ROWS = 20


def _focus_file(folder: Path) -> Path:
    rows = list(csv.reader(io.StringIO((SAMPLES / "focus_1.0_sample_1000rows.csv").read_text(encoding="utf-8-sig"))))
    path = folder / "bills" / "focus_nightly.csv"
    path.parent.mkdir()
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows[: ROWS + 1])
    return path


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=180)


def test_cli_commands_run_in_the_app_while_a_session_is_open(page: Page, demo_db_path: Path, tmp_path: Path) -> None:
    _focus_file(tmp_path)
    with duckdb.connect(str(demo_db_path), read_only=True) as con:
        period, key = con.execute("SELECT period, run_key FROM allocation_run WHERE status = 'posted'"
                                  " ORDER BY period DESC LIMIT 1").fetchall()[0]
        cc015 = Decimal(con.execute("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ?"
                                    " AND cost_center_id = 'CC015'", [key]).fetchall()[0][0])
    (tmp_path / "server").mkdir()
    with private_server(demo_db_path, tmp_path / "server") as s:
        login(page, s.url, "fiona", DEMO_LOGINS["fiona"][0])
        open_page(page, "Ingest")
        db = str(s.db_path)

        done = _cli(tmp_path, "ingest", "bills/focus_nightly.csv", "--db", db, "--user", "nightly")
        assert done.returncode == 0, done.stderr
        assert "LOADED  focus_nightly.csv" in done.stdout
        assert f"focus → cost_line: {ROWS} rows read, {ROWS} loaded, 0 quarantined" in done.stdout
        assert "held by the app: running the command there" in done.stderr

        verify = _cli(tmp_path, "audit", "verify", "--db", db)
        assert verify.returncode == 0, verify.stderr
        assert "intact" in verify.stdout.lower()

        explained = _cli(tmp_path, "explain", "--db", db, "--period", period, "--target", "CC015", "--json")
        assert explained.returncode == 0, explained.stderr
        data = json.loads(explained.stdout)
        assert data["run_key"] == key and Decimal(data["posted_total"]) == cc015

        expect(page.get_by_test_id("stException")).to_have_count(0)
        open_page(page, "Executive overview")
        open_page(page, "Ingest")
        page.get_by_role("tab", name="Batch history").click()
        wait_idle(page)
        # the newest batch is picked first: the one the CLI loaded a moment ago, through the app
        expect(page.get_by_role("combobox", name="Batch")).to_have_value(re.compile(r" — focus_nightly\.csv$"))
        expect(page.get_by_test_id("stException")).to_have_count(0)
        screenshot(page, "cli_while_app_runs_history")
    with duckdb.connect(str(s.db_path), read_only=True) as con:
        assert con.execute("SELECT loaded_by, status FROM ingest_batch WHERE file_name = 'focus_nightly.csv'"
                           ).fetchall() == [("nightly", "loaded")]
