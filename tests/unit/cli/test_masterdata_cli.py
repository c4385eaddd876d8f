"""`python -m engine masterdata` as a data steward runs it: a real subprocess on a copy of the demo store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine import store

ROOT = Path(__file__).resolve().parents[3]


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine", "masterdata", *args, "--db", str(db)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_apply_list_and_revert_a_batch_file(demo_db_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    db.write_bytes(demo_db_path.read_bytes())
    con = store.connect(db)
    app, cc = con.sql("SELECT app_id, cost_center_id FROM application ORDER BY 1 LIMIT 1").fetchall()[0]
    other = con.sql("SELECT min(unit_id) FROM org_unit WHERE kind = 'cost_center' AND unit_id <> ?",
                    params=[cc]).fetchall()[0][0]
    con.close()
    batch = tmp_path / "moves.csv"
    batch.write_text(f"entity,key,field,value\napplication,{app},cost_center_id,{other}\n", encoding="utf-8")

    done = _cli(db, "apply", str(batch), "--effective", "2026-10", "--reason", "reorg", "--actor", "fiona")
    assert done.returncode == 0, done.stderr
    assert f"application {app}.cost_center_id: {cc} → {other}" in done.stdout
    assert "posted months affected (re-run to post with the new org): 2026-10" in done.stdout

    again = _cli(db, "apply", str(batch), "--effective", "2026-10", "--reason", "reorg", "--actor", "fiona")
    assert again.returncode == 1 and f"cost_center_id is already '{other}'" in again.stderr

    listed = _cli(db, "list")
    assert listed.returncode == 0 and "reorg" in listed.stdout

    undone = _cli(db, "revert", "1", "--reason", "wrong app", "--actor", "fiona")
    assert undone.returncode == 0, undone.stderr
    con = store.connect(db, read_only=True)
    assert con.sql("SELECT cost_center_id FROM application WHERE app_id = ?", params=[app]).fetchall() == [(cc,)]
    assert con.sql("SELECT action FROM audit_event WHERE action LIKE 'masterdata.%' ORDER BY seq").fetchall() == [
        ("masterdata.apply",), ("masterdata.revert",)]
    con.close()
