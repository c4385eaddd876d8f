"""Clean kills (issue #19): a parent killed with SIGKILL mid-ingest takes its sandboxed parser child with it, and the
temp folders it left are removed by the next start's sweep; the store stays whole. A small slice of the harness's
kill trials (`python -m bench.reliability` runs 50+)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.reliability import alive, check_store, descendants, focus_bill, temp_folders
from engine import store
from engine.ingest import workdirs

ROOT = Path(__file__).resolve().parents[3]

PARENT = """
import sys
from pathlib import Path
from engine import store
from engine.ingest.pipeline import ingest_file
con = store.connect(sys.argv[1])
ingest_file(con, Path(sys.argv[2]), _test_hooks={"_test_sleep_s": 60})
"""


def _wait_for_child(parent: subprocess.Popen[bytes], timeout: float = 60.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = descendants(parent.pid)
        if kids and any("engine.ingest.sandbox" in Path(f"/proc/{k}/cmdline").read_bytes().decode(errors="replace")
                        for k in kids if Path(f"/proc/{k}/cmdline").exists()):
            return kids
        assert parent.poll() is None, parent.communicate()
        time.sleep(0.05)
    raise AssertionError("the parser child never started")


def test_a_killed_parent_takes_its_parser_child_and_leaves_no_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    db = tmp_path / "store.duckdb"
    store.connect(db).close()
    bill = focus_bill(tmp_path / "bill.csv", "BA-KILL", 200)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    for trial in range(3):
        parent = subprocess.Popen([sys.executable, "-c", PARENT, str(db), str(bill)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        children = _wait_for_child(parent)
        assert [p.name for p in temp_folders(tmp)][0].startswith("apportion-ingest-")
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(c) for c in children):
            time.sleep(0.05)
        orphans = [c for c in children if alive(c)]
        for c in orphans:
            os.kill(c, signal.SIGKILL)
        assert orphans == [], f"trial {trial}: the parser child outlived its killed parent"
        assert len(temp_folders(tmp)) == 1          # left by the kill …
        assert workdirs.sweep(tmp) == 1             # … and removed by the next start
        assert temp_folders(tmp) == []
    con = store.connect(db)
    assert check_store(con) == []
    assert con.sql("SELECT count(*) FROM ingest_batch").fetchall()[0][0] == 0   # nothing stored half-way
    con.close()


def test_the_sweep_keeps_folders_of_live_owners_and_young_unowned_ones(tmp_path: Path) -> None:
    mine = workdirs.make_workdir("apportion-ingest-", tmp_path)
    young = tmp_path / "apportion-upload-young"
    young.mkdir()
    old = tmp_path / "apportion-parse-old"
    old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    dead = workdirs.make_workdir("apportion-ingest-", tmp_path)
    (dead / workdirs.OWNER_FILE).write_text("999999999 12345")   # no such process
    recycled = workdirs.make_workdir("apportion-ingest-", tmp_path)
    (recycled / workdirs.OWNER_FILE).write_text(f"{os.getpid()} 1")   # this pid, but another start time
    other = tmp_path / "not-ours"
    other.mkdir()
    assert workdirs.sweep(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, young.name, "not-ours"])
