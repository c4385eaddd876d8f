"""`python -m engine allocate` as the month-close job runs it: a real subprocess on a real store file."""

from __future__ import annotations

import csv
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl

from engine import store
from tests.unit.allocation_data import PERIOD, add_lines, textbook_lines

ROOT = Path(__file__).resolve().parents[3]
TEXTBOOK_YAML = """
name: textbook
steps:
  - {id: hr, name: HR, source: {filters: [{field: tag_cost_center, value: HR}]},
     method: {kind: fixed, split: {'step:dp': 20, 'step:rm': 10, Machining: 40, Assembly: 30}}}
  - {id: dp, name: DP, source: {filters: [{field: tag_cost_center, value: DP}]},
     method: {kind: fixed, split: {'step:hr': 8, 'step:rm': 7, Machining: 30, Assembly: 55}}}
  - {id: rm, name: RM, source: {filters: [{field: tag_cost_center, value: RM}]},
     method: {kind: fixed, split: {Machining: 50, Assembly: 50}}}
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "allocate", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_posts_is_idempotent_and_exports(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    con = store.connect(db)
    textbook_lines(con)
    con.close()
    rules = tmp_path / "textbook.yaml"
    rules.write_text(TEXTBOOK_YAML)
    out = tmp_path / "out" / "posted.csv"
    first = _cli("--period", PERIOD, "--ruleset", str(rules), "--db", str(db), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "posted 240,000.00" in first.stdout and "unallocated 0.00" in first.stdout
    with out.open() as f:
        rows = list(csv.DictReader(f))
    by_target: dict[str, Decimal] = {}
    for r in rows:
        by_target[r["target_id"]] = by_target.get(r["target_id"], Decimal(0)) + Decimal(r["posted_amount"])
    assert by_target == {"Machining": Decimal("105521.74"), "Assembly": Decimal("134478.26")}
    again = _cli("--period", PERIOD, "--ruleset", str(rules), "--db", str(db), "--out", str(tmp_path / "p.parquet"))
    assert again.returncode == 0 and "replaced the earlier identical run" in again.stdout
    assert pl.read_parquet(tmp_path / "p.parquet").height == len(rows)
    con = store.connect(db)
    assert con.sql("SELECT count(*), count(DISTINCT run_key) FROM allocation_run").fetchall() == [(1, 1)]
    con.close()


def test_cli_exit_codes(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    con = store.connect(db)
    add_lines(con, [{"tag_cost_center": "HR", "effective_cost": Decimal("1e20")}])  # cannot post as DECIMAL(18,2)
    con.close()
    rules = tmp_path / "t.yaml"
    rules.write_text(TEXTBOOK_YAML)
    failed = _cli("--period", PERIOD, "--ruleset", str(rules), "--db", str(db))
    assert failed.returncode == 1 and "FAILED, nothing posted" in failed.stderr   # refused data (docs/cli.md)
    unknown = _cli("--period", PERIOD, "--ruleset", "no_such_rules", "--db", str(db))
    assert unknown.returncode == 1 and "no approved version" in unknown.stderr
    bad_period = _cli("--period", "2026-13", "--ruleset", str(rules), "--db", str(db))
    assert bad_period.returncode == 1 and "YYYY-MM" in bad_period.stderr
