"""`python -m engine export-focus` in a real subprocess on a copy of the demo store."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl

from engine import store
from engine.outputs import focus_export

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "export-focus", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_writes_csv_and_parquet(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    out = tmp_path / "focus" / "2026-10.csv"
    done = _cli("--db", str(db), "--period", "2026-10", "--out", str(out))
    assert done.returncode == 0, done.stderr
    con = store.connect(db)
    frame, expected = focus_export.export(con, "2026-10")
    total_out = con.execute("SELECT total_out FROM allocation_run WHERE run_key = ?",
                            [frame["x_AllocationRunKey"][0]]).fetchall()[0][0]
    con.close()
    assert out.read_bytes() == expected
    assert f"wrote {frame.height} FOCUS 1.0 rows ({total_out} allocated)" in done.stdout
    pq = tmp_path / "2026-10.parquet"
    assert _cli("--db", str(db), "--period", "2026-10", "--out", str(pq)).returncode == 0
    back = pl.read_parquet(pq)
    assert back.height == frame.height and back["BilledCost"].sum() == total_out


def test_cli_exit_codes(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    none = _cli("--db", str(db), "--period", "2019-01", "--out", str(tmp_path / "x.csv"))
    assert none.returncode == 1 and "no posted allocation run for 2019-01" in none.stderr
    missing = _cli("--db", str(tmp_path / "absent.duckdb"), "--period", "2026-10", "--out", str(tmp_path / "x.csv"))
    assert missing.returncode == 2 and "no store" in missing.stderr
