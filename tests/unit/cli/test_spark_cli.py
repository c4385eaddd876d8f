"""`export-lines` then `allocate --engine spark` as a job runs them: real subprocesses, a real store, real Spark."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from engine import store
from engine.__main__ import main
from engine.allocation.runs import run_allocation
from tests.unit.allocation_data import PERIOD, add_lines, textbook_lines

ROOT = Path(__file__).resolve().parents[3]
RECIPROCAL_YAML = """
name: textbook
steps:
  - {id: hr, name: HR, reciprocal_group: services, source: {filters: [{field: tag_cost_center, value: HR}]},
     method: {kind: fixed, split: {'step:dp': 20, 'step:rm': 10, Machining: 40, Assembly: 30}}}
  - {id: dp, name: DP, reciprocal_group: services, source: {filters: [{field: tag_cost_center, value: DP}]},
     method: {kind: fixed, split: {'step:hr': 8, 'step:rm': 7, Machining: 30, Assembly: 55}}}
  - {id: rm, name: RM, reciprocal_group: services, source: {filters: [{field: tag_cost_center, value: RM}]},
     method: {kind: fixed, split: {Machining: 50, Assembly: 50}}}
"""


def _engine(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_export_lines_then_allocate_on_spark_posts_the_textbook_cents(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    con = store.connect(db)
    textbook_lines(con)
    add_lines(con, [{"tag_cost_center": "HR", "effective_cost": "0.0049999999"}], period="2026-02")  # not January
    con.close()
    rules = tmp_path / "textbook.yaml"
    rules.write_text(RECIPROCAL_YAML)
    lines = tmp_path / "lines"

    exported = _engine("export-lines", "--db", str(db), "--period", PERIOD, "--out", str(lines))
    assert exported.returncode == 0, exported.stderr
    assert "cost_line 3," in exported.stdout
    assert pl.read_parquet(lines / "cost_line.parquet")["billing_period"].to_list() == [PERIOD] * 3

    out = tmp_path / "spark.parquet"
    done = _engine("allocate", "--db", str(db), "--period", PERIOD, "--ruleset", str(rules), "--engine", "spark",
                   "--master", "local[1]", "--lines", str(lines), "--out", str(out), "--actor", "fiona")
    assert done.returncode == 0, done.stderr
    assert "(spark)" in done.stdout and "posted 240,000.00" in done.stdout
    frame = pl.read_parquet(out)
    by_target = frame.group_by("target_id").agg(pl.col("posted_amount").sum()).sort("target_id")
    assert dict(by_target.iter_rows()) == {"Assembly": Decimal("132723.58"), "Machining": Decimal("107276.42")}

    # the same close on the store: the same run (replaced), the same rows as the Spark job posted
    con = store.connect(db)
    try:
        again = run_allocation(con, PERIOD, rules, actor="fiona")
        assert again.replaced
        rows = con.sql("SELECT step, source_pool, target_id, amount, posted_amount FROM allocation_result"
                       " WHERE run_key = ? ORDER BY ALL", params=[again.run_key]).fetchall()
        assert rows == sorted(frame.select("step", "source_pool", "target_id", "amount", "posted_amount").rows())
        assert con.sql("SELECT count(*) FROM audit_event WHERE action = 'allocation.post'").fetchall() == [(2,)]
    finally:
        con.close()


def test_allocate_on_spark_without_lines_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "s.duckdb"
    store.connect(db).close()
    assert main(["allocate", "--db", str(db), "--period", PERIOD, "--ruleset", "x", "--engine", "spark"]) == 2   # usage
    assert "needs --lines DIR" in capsys.readouterr().err
    assert main(["allocate", "--db", str(db), "--period", PERIOD, "--ruleset", "x", "--engine", "spark",
                 "--lines", str(tmp_path)]) == 1
    assert "lacks cost_line" in capsys.readouterr().err
