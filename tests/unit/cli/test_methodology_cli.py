"""`python -m engine methodology` in a real subprocess on a copy of the demo store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from engine import store
from engine.rules import versions

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "methodology", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_writes_html_and_markdown(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    con = store.connect(db)
    rv = versions.as_of(con, "demo_default", "2026-10")
    con.close()
    out = tmp_path / "docs" / "methodology.html"
    done = _cli("--db", str(db), "--rule-set", "demo_default", "--format", "html", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"demo_default v{rv.version}" in done.stdout and str(out) in done.stdout
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and rv.body_hash in page
    assert all(s.name in page for s in rv.rule_set.steps)
    md = _cli("--db", str(db))   # defaults: the rule set of the latest posted run, Markdown to stdout
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith(f"# Allocation methodology: demo_default v{rv.version}")
    assert "## Version history and approvals" in md.stdout


def test_cli_exit_codes(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    unknown = _cli("--db", str(db), "--rule-set", "no_such_rules")
    assert unknown.returncode == 1 and "no approved version" in unknown.stderr
    bad = _cli("--db", str(db), "--period", "October")
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr
    missing = _cli("--db", str(tmp_path / "absent.duckdb"))
    assert missing.returncode == 2 and "no store" in missing.stderr
