"""CLI conventions, as a scheduler sees them (subprocess `python -m engine …` against a real temp store): --version,
argparse choices (exit 2), a missing file's path, a dry run's wording, a re-delivery refused without --replace
(exit 1, naming the batch, month, rows and amount) and loaded with it, and --json always JSON with problems as
fields — also for a store that cannot be opened (exit 2). Exit codes: docs/cli.md."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, needs_samples
from tests.unit.redelivery_files import focus_month

FIXTURES = ROOT / "tests" / "fixtures"
PROBLEM_FIELDS = {"file", "row", "column", "expected", "got", "reason"}


def _engine(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_version_and_choices() -> None:
    done = _engine("--version")
    with open(ROOT / "pyproject.toml", "rb") as f:
        assert done.returncode == 0 and done.stdout.strip() == f"apportion {tomllib.load(f)['project']['version']}"
    for args, option in ((("ingest", "--source", "nope", "x.csv"), "--source"),
                         (("journal", "--period", "2026-01", "--layout", "xls", "--out", "j.csv"), "--layout"),
                         (("ingest", "--encoding", "ebcdic", "x.csv"), "--encoding")):
        bad = _engine(*args)
        assert bad.returncode == 2 and f"argument {option}: invalid choice" in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    assert "exit codes (every command): 0 ok; 1 refused input" in _engine("ingest", "--help").stdout


def test_missing_file_dry_run_and_missing_column(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    missing = tmp_path / "nowhere" / "bill.csv"
    gone = _engine("ingest", "--db", str(db), str(missing))
    assert gone.returncode == 1 and f"{missing}: an existing file" in gone.stdout
    dry = _engine("ingest", "--db", str(db), "--dry-run", str(FIXTURES / "aws_cur2_sample.csv"))
    assert dry.returncode == 0
    assert "aws_cur → cost_line: checked 13 rows, would load 12, would quarantine 1" in dry.stdout
    assert " loaded" not in dry.stdout.replace("0 loaded, 0 unchanged", "")
    wrong = _engine("ingest", "--db", str(db), "--source", "focus", str(FIXTURES / "aws_cur2_sample.csv"))
    assert wrong.returncode == 1 and "a column named 'BilledCost' (missing; the header has:" in wrong.stdout


@needs_samples
def test_a_redelivery_needs_replace(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    full, short = focus_month(tmp_path / "sep_full.csv", 1000), focus_month(tmp_path / "sep_short.csv", 20)
    first = _engine("ingest", "--db", str(db), "--json", str(full))
    assert first.returncode == 0, first.stderr
    old = _json_lines(first.stdout)[0]["batch_id"]
    refused = _engine("ingest", "--db", str(db), str(short))
    assert refused.returncode == 1 and "NOT LOADED (needs --replace)  sep_short.csv" in refused.stdout
    assert (f"would replace earlier rows of batch {old} (1,000 rows of sep_full.csv" in refused.stdout
            and "for September 2024: billed $18.54, effective $13.00 → the new file has 20 rows" in refused.stdout)
    assert "run again with --replace" in refused.stdout
    assert "warning: September 2024 (AWS 1234567890123) drops from $13.00 to $0.00 (−100 %)" in refused.stdout
    done = _engine("ingest", "--db", str(db), "--replace", "--json", str(short))
    assert done.returncode == 0, done.stderr
    rec, summary = _json_lines(done.stdout)
    assert rec["status"] == "loaded" and rec["replaced"] == [old] and rec["pending"][0]["batch_id"] == old
    assert summary == {"summary": {"files": 1, "loaded": 1, "unchanged": 0, "refused": 0, "checked": 0,
                                   "needs_replace": 0, "exit": 0}}


@needs_samples
def test_json_is_always_json(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    full, short = focus_month(tmp_path / "sep_full.csv", 1000), focus_month(tmp_path / "sep_short.csv", 20)
    out = _engine("ingest", "--db", str(db), "--json", str(full), str(FIXTURES / "aws_cur2_sample.csv"), str(short),
                  str(tmp_path / "missing.csv"))
    assert out.returncode == 1 and out.stderr == ""
    full_rec, cur, ask, gone, summary = _json_lines(out.stdout)
    assert full_rec["status"] == "loaded" and full_rec["problems"] == []
    [q] = cur["problems"]
    assert set(q) == PROBLEM_FIELDS and (q["file"], q["row"]) == ("aws_cur2_sample.csv", 13)
    assert q["column"] == "identity_line_item_id+identity_time_interval" and q["reason"]
    assert ask["status"] == "needs_confirmation" and ask["batch_id"] is None
    [p] = ask["pending"]
    assert (p["batch_id"], p["rows"], p["new_rows"], p["months"]) == (full_rec["batch_id"], 1000, 20, ["2024-09"])
    assert (p["effective"], p["new_effective"], p["currency"]) == ("13.0000000000", "0.0000000000", "USD")
    assert gone["status"] == "refused" and set(gone["problems"][0]) == PROBLEM_FIELDS
    assert gone["problems"][0]["expected"].startswith("an existing file")
    assert summary == {"summary": {"files": 4, "loaded": 2, "unchanged": 0, "refused": 1, "checked": 0,
                                   "needs_replace": 1, "exit": 1}}
    # a store that cannot be opened: still JSON, exit 2, and no empty store made anywhere
    nowhere = tmp_path / "no_such_folder" / "s.duckdb"
    bad = _engine("ingest", "--db", str(nowhere), "--json", str(short))
    assert bad.returncode == 2 and not nowhere.parent.exists()
    [err] = _json_lines(bad.stdout)
    assert err["summary"]["exit"] == 2 and str(nowhere.parent) in err["summary"]["error"]
