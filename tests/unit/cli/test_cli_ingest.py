"""`python -m engine ingest`: summary per file, a text progress bar, exit 1 on any refusal, 0 for a repeat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine import store
from engine.__main__ import main
from tests.conftest import ROOT, SAMPLES
from tests.fx_rates import seed_test_rates

FIXTURES = ROOT / "tests" / "fixtures"


def test_cli_loads_reports_and_fails_on_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.duckdb"
    bad = tmp_path / "notes.csv"
    bad.write_text("hello,world\n1,2\n")
    code = main(["ingest", "--db", str(db), "--progress", str(FIXTURES / "aws_cur2_sample.csv"), str(bad)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "LOADED  aws_cur2_sample.csv" in out
    assert "aws_cur → cost_line: 13 rows read, 12 loaded, 1 quarantined" in out
    assert "quarantined: aws_cur2_sample.csv: row 13, column 'identity_line_item_id+identity_time_interval'" in out
    assert "REFUSED  notes.csv" in out and "notes.csv: row 1: a recognised export format" in out
    assert out.strip().endswith("2 file(s): 1 loaded, 0 unchanged, 1 refused")
    assert "100%|" in err and "| Done [" in err and "| Writing 12 rows" in err   # tqdm: percent, phase, elapsed
    # a repeat is not a failure
    assert main(["ingest", "--db", str(db), str(FIXTURES / "aws_cur2_sample.csv")]) == 0
    out, _ = capsys.readouterr()
    assert "UNCHANGED  aws_cur2_sample.csv" in out and "nothing changed" in out
    con = store.connect(db)
    try:
        assert con.sql("SELECT count(*), max(loaded_by) FROM ingest_batch").fetchall() == [(1, "cli")]
        assert con.sql("SELECT count(*) FROM cost_line").fetchall() == [(12,)]
    finally:
        con.close()


def _with_test_rates(db: Path) -> None:
    con = store.connect(db)
    seed_test_rates(con)
    con.close()


def test_cli_source_json_and_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.duckdb"
    _with_test_rates(db)   # the Azure sample is billed in CAD
    code = main(["ingest", "--db", str(db), "--source", "azure_cost", "--json", "--dry-run",
                 str(SAMPLES / "azure_ea_cost_details_sample_anonymized.csv")])
    assert code == 0
    rec, summary = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert summary["summary"]["checked"] == 1 and summary["summary"]["exit"] == 0
    assert rec["status"] == "staged" and rec["kind"] == "azure_cost" and rec["rows_loaded"] == 27
    code = main(["ingest", "--db", str(db), "--source", "focus", str(SAMPLES / "aws_legacy_cur_sample_anonymized.csv")])
    out = capsys.readouterr().out
    assert code == 1 and "a column named 'BilledCost'" in out
    con = store.connect(db)
    try:
        assert con.sql("SELECT count(*) FROM ingest_batch").fetchall() == [(0,)]
    finally:
        con.close()


def test_cli_as_a_process_with_unknown_mapping(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    _with_test_rates(db)   # the FOCUS 1.2 fixture is billed in EUR
    proc = subprocess.run([sys.executable, "-m", "engine", "ingest", "--db", str(db), "--mapping", "nope",
                           str(FIXTURES / "focus_1.2_sample.csv")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "no mapping profile named 'nope'" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "engine", "ingest", "--db", str(db),
                           str(FIXTURES / "focus_1.2_sample.csv")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED  focus_1.2_sample.csv" in proc.stdout and "5 loaded" in proc.stdout
