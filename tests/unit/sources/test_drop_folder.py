"""A drop-folder source: a new FOCUS file loads once, a half-written one waits until it is complete, and no file's
rows load twice (same file again, touched, or copied under another name)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from engine.errors import AccessDenied, InputError
from engine.sources import config, runner
from tests.fx_rates import seed_test_rates
from tests.unit.sources.conftest import FINOPS

FOCUS = Path(__file__).resolve().parents[2] / "fixtures" / "focus_1.2_sample.csv"


def _lines(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM cost_line").fetchall()[0][0])


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_focus_file_loads_once_a_half_written_one_waits(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    seed_test_rates(con)   # the FOCUS fixture is billed in EUR
    drop = tmp_path / "drop"
    drop.mkdir()
    config.add_source(con, FINOPS, {"name": "focus-drop", "kind": "folder", "endpoint": str(drop),
                                    "interval_minutes": 15, "options": {"pattern": "*.csv", "settle_seconds": 5}})
    data = FOCUS.read_bytes()
    rows = data.count(b"\n") - 1
    target = drop / "focus-2024-09.csv"
    target.write_bytes(data[: len(data) // 2])                 # a copy in progress
    (drop / "other.csv.part").write_bytes(data)                # a writer's temporary name: never looked at

    r1 = runner.run_source(con, "focus-drop", FINOPS)
    assert r1.status == "nothing_new" and "still being written" in r1.message
    assert _lines(con) == 0

    target.write_bytes(data)                                   # the copy completes
    _age(target, 60)
    r2 = runner.run_source(con, "focus-drop", FINOPS)
    assert r2.status == "nothing_new" and "changed since the last look" in r2.message
    assert _lines(con) == 0

    r3 = runner.run_source(con, "focus-drop", FINOPS)          # unchanged since the last look, quiet for 60 s
    assert r3.status == "loaded", r3.message
    assert (r3.rows_loaded, _lines(con)) == (rows, rows)

    r4 = runner.run_source(con, "focus-drop", FINOPS)
    assert r4.status == "nothing_new" and len(r4.batch_ids) == 0

    target.touch()                                             # touched: looked at again, same bytes
    _age(target, 30)
    copy = drop / "focus-2024-09 (copy).csv"                   # the same bytes under another name
    shutil.copy2(target, copy)
    r5 = runner.run_source(con, "focus-drop", FINOPS)
    assert r5.status == "nothing_new", r5.message
    assert _lines(con) == rows
    r6 = runner.run_source(con, "focus-drop", FINOPS)          # the touched one has held still since r5
    assert r6.status == "nothing_new", r6.message
    assert _lines(con) == rows
    assert con.execute("SELECT count(*) FROM ingest_batch WHERE status = 'loaded'").fetchall()[0][0] == 1
    status = dict(con.execute("SELECT file_name, status FROM source_file ORDER BY 1").fetchall())
    assert status == {"focus-2024-09 (copy).csv": "duplicate", "focus-2024-09.csv": "duplicate"}


def test_a_missing_folder_is_refused_and_a_vanished_one_fails_the_run(con: duckdb.DuckDBPyConnection,
                                                                      tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        config.add_source(con, FINOPS, {"name": "nowhere", "kind": "folder", "endpoint": str(tmp_path / "no")})
    drop = tmp_path / "drop"
    drop.mkdir()
    config.add_source(con, FINOPS, {"name": "gone", "kind": "folder", "endpoint": str(drop)})
    drop.rmdir()
    res = runner.run_source(con, "gone", FINOPS)
    assert res.status == "failed" and "does not exist" in res.message
    assert config.get_source(con, "gone").last_error == res.message


def test_only_finops_and_admin_manage_sources(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    from engine.access.users import User

    owner = User("omar", "Omar", "app_owner", frozenset({"CC1"}))
    with pytest.raises(AccessDenied):
        config.add_source(con, owner, {"name": "x", "kind": "folder", "endpoint": str(tmp_path)})
    config.add_source(con, FINOPS, {"name": "x", "kind": "folder", "endpoint": str(tmp_path)})
    with pytest.raises(AccessDenied):
        runner.run_source(con, "x", owner)
    with pytest.raises(AccessDenied):
        config.set_paused(con, owner, "x", True)
