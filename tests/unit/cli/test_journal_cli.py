"""`python -m engine journal` in a real subprocess on a copy of the demo store: the file equals the engine's bytes,
balances, is the same on a second run, and refusals exit 1 naming the reason."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from engine import store
from engine.access.users import get_user
from engine.outputs import journals
from engine.outputs.journals import mapping

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "journal", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_writes_each_layout_byte_identically(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    for layout in ("sap", "oracle", "csv"):
        out = tmp_path / f"{layout}.csv"
        done = _cli("--db", str(db), "--period", "2026-10", "--layout", layout, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert "balanced documents" in done.stdout and "stays unallocated" in done.stdout
        second = _cli("--db", str(db), "--period", "2026-10", "--layout", layout, "--out", str(tmp_path / "b.csv"))
        assert second.returncode == 0 and (tmp_path / "b.csv").read_bytes() == out.read_bytes()
    con = store.connect(db)
    j, expected = journals.export(con, "2026-10", "sap")
    con.close()
    sap = (tmp_path / "sap.csv").read_bytes()
    assert sap == expected
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in csv.DictReader(io.StringIO(sap.decode())):
        totals[row["REF_DOC_NO"]] += Decimal(row["AMT_DOCCUR"])
    assert len(totals) == len(j.documents) and set(totals.values()) == {Decimal("0.00")}
    named = _cli("--db", str(db), "--period", "2026-10", "--layout", "csv", "--run", j.run_key, "--out",
                 str(tmp_path / "named.csv"))
    assert named.returncode == 0 and (tmp_path / "named.csv").read_bytes() == (tmp_path / "csv.csv").read_bytes()


def test_cli_refusals(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    con = store.connect(db)
    mapping.remove(con, get_user(con, "fiona"), "k8s_platform")
    con.close()
    out = tmp_path / "j.csv"
    unmapped = _cli("--db", str(db), "--period", "2026-10", "--layout", "sap", "--out", str(out))
    assert unmapped.returncode == 1 and "no GL mapping for pool k8s_platform" in unmapped.stderr
    assert not out.exists()
    bad = _cli("--db", str(db), "--period", "October", "--layout", "sap", "--out", str(out))
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr
    missing = _cli("--db", str(tmp_path / "absent.duckdb"), "--period", "2026-10", "--out", str(out))
    assert missing.returncode == 2 and "no store" in missing.stderr
