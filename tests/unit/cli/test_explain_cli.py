"""`python -m engine explain` in a real subprocess on a copy of the demo store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from engine import store

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "explain", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def test_cli_explains_a_cost_centre_to_the_cent(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    con = store.connect(db)
    period, key = con.execute("SELECT period, run_key FROM allocation_run WHERE status = 'posted'"
                              " ORDER BY period DESC LIMIT 1").fetchall()[0]
    cc = "CC015"
    total = Decimal(con.execute("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ?"
                                " AND cost_center_id = ?", [key, cc]).fetchall()[0][0])
    con.close()
    done = _cli("--db", str(db), "--period", period, "--target", cc, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["run_key"] == key and data["target_kind"] == "cost_center"
    assert Decimal(data["posted_total"]) == total
    assert sum(Decimal(c["posted"]) for c in data["cells"]) == total
    with localcontext() as ctx:
        ctx.prec = 40
        _rederive(data["cells"])
    text = _cli("--db", str(db), "--period", period, "--target", cc, "--run", key)
    assert text.returncode == 0, text.stderr
    assert f"posted total {total}" in text.stdout and "re-derive:" in text.stdout


def _rederive(cells: list[dict[str, Any]]) -> None:
    for cell in cells:  # re-derived from the printed figures alone
        exact = Decimal(0)
        for chain in cell["chains"]:
            value: Decimal | None = None   # a chain starts at its first hop's amount in (the pool total)
            for hop in chain["hops"]:
                if hop["share"] is None:     # reciprocal: the solved total
                    value = Decimal(hop["amount"])
                else:
                    value = (Decimal(hop["amount_in"]) if value is None else value) * Decimal(hop["share"])
            assert value is not None
            exact += value
        assert abs(exact - Decimal(cell["exact"])) < Decimal("1e-12")
        assert Decimal(cell["posted"]) == Decimal(cell["nearest"]) + Decimal(cell["adjustment"])


def test_cli_exit_codes(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    unknown = _cli("--db", str(db), "--period", "2026-10", "--target", "NOPE")
    assert unknown.returncode == 1 and "NOPE" in unknown.stderr
    bad = _cli("--db", str(db), "--period", "October", "--target", "CC015")
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr
    missing = _cli("--db", str(tmp_path / "absent.duckdb"), "--period", "2026-10", "--target", "CC015")
    assert missing.returncode == 2
