"""`engine.cli.open_store` outside the app: a store held by a process without a live job runner is waited for,
bounded, with one line naming the holder; `create` makes a store only in a folder that exists."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import store
from engine.__main__ import main
from engine.cli import open_store
from engine.jobs import spool

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(120)"


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A store held read-write by another process (as a crashed job or an app without a runner would)."""
    db = tmp_path / "held.duckdb"
    store.connect(db).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    yield db, proc
    proc.kill()
    proc.wait()


def test_a_stale_heartbeat_means_a_bounded_wait_naming_the_holder(
        held: tuple[Path, subprocess.Popen[str]], capsys: pytest.CaptureFixture[str]) -> None:
    db, proc = held
    spool.write_json(spool.ensure(db) / spool.HEARTBEAT,       # the app's runner, dead for a minute
                     {"pid": proc.pid, "store": str(db.resolve()), "beat_at": time.time() - 60, "running": None})
    started = time.monotonic()
    code = main(["explain", "--db", str(db), "--wait", "1.5", "--period", "2024-09", "--target", "cc-1"])
    waited = time.monotonic() - started
    err = capsys.readouterr().err
    exe = Path(os.path.realpath(sys.executable)).name      # DuckDB names the holder's executable and PID
    assert code == 2 and 1.5 <= waited < 10
    assert err.splitlines() == [
        f"{db} is held by process {proc.pid} ({exe}): waiting up to 1.5 s for it",
        f"cannot open {db}: held by process {proc.pid} ({exe}) for 1.5 s and no app job runner is alive to run the "
        "command (try again later, or --wait SECONDS)",
    ]
    assert "Traceback" not in err


def test_the_store_is_opened_once_its_holder_lets_go(held: tuple[Path, subprocess.Popen[str]]) -> None:
    db, proc = held
    killer = subprocess.Popen([sys.executable, "-c", f"import os, time; time.sleep(1); os.kill({proc.pid}, 9)"])
    try:
        con = open_store(str(db))       # waits (default cli_wait_seconds) and gets it once the holder is gone
        assert con is not None
        con.close()
    finally:
        killer.wait()


def test_create_makes_a_store_only_in_an_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "new.duckdb"
    assert open_store(str(missing), create=True) is None
    assert capsys.readouterr().err == (f"cannot create a store at {missing}: the folder {missing.parent} "
                                       "does not exist\n")
    assert not (tmp_path / "no").exists()

    absent = tmp_path / "absent.duckdb"
    assert open_store(str(absent)) is None
    assert capsys.readouterr().err == f"there is no store at {absent}\n"
    assert not absent.exists()

    con = open_store(str(absent), create=True)
    assert con is not None
    try:
        assert con.sql("SELECT count(*) > 20 FROM schema_migration").fetchall() == [(True,)]
    finally:
        con.close()
