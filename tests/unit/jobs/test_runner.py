"""The app's job runner and the CLI's client in one process, over a real DuckDB file: a job is submitted, claimed,
run on the app's connection and answered with its exit code and output."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from engine import __main__ as entry
from engine import store
from engine.jobs import client, runner, spool
from tests.conftest import ROOT

AWS_CUR = ROOT / "tests" / "fixtures" / "aws_cur2_sample.csv"


@dataclass
class App:
    db: Path
    con: duckdb.DuckDBPyConnection
    runner: runner.Runner


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setitem(entry.COMMANDS, "boom", ("tests.unit.jobs.commands", "raise an exception"))
    monkeypatch.setitem(entry.COMMANDS, "chatty", ("tests.unit.jobs.commands", "print lines slowly"))
    db = tmp_path / "app.duckdb"
    con = store.connect(db)
    r = runner.Runner(con, db).start()
    yield App(db, con, r)
    r.stop()
    con.close()


class Text:
    """A stream the client prints the job's output into."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> int:
        self.parts.append(s)
        return len(s)

    def flush(self) -> None:
        pass

    def text(self) -> str:
        return "".join(self.parts)


def run(app: App, *argv: str, wait: float = 30) -> tuple[int, str, str]:
    out, err = Text(), Text()
    job = client.submit(app.db, list(argv))
    code = client.follow(app.db, job, wait, out=out, err=err)  # type: ignore[arg-type]
    return code, out.text(), err.text()


def test_a_job_is_claimed_run_on_the_apps_connection_and_answered(app: App) -> None:
    folder = spool.folder(app.db)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    hb = spool.heartbeat(app.db)
    assert hb is not None and hb.pid == os.getpid() and hb.store == str(app.db.resolve()) and hb.fresh()

    code, out, err = run(app, "ingest", "--db", str(app.db), "--user", "nightly", str(AWS_CUR))
    assert code == 0, err
    assert "LOADED  aws_cur2_sample.csv" in out
    assert "aws_cur → cost_line: 13 rows read, 12 loaded, 1 quarantined" in out
    # the app's own connection sees the batch at once (the sessions' data_version keys on ingest_batch)
    assert app.con.sql("SELECT count(*), max(loaded_by) FROM ingest_batch").fetchall() == [(1, "nightly")]
    assert app.con.sql("SELECT count(*) FROM cost_line").fetchall() == [(12,)]

    code, out, _ = run(app, "audit", "verify", "--db", str(app.db))
    assert code == 0 and "intact" in out.lower()
    # the app's connection survives the jobs' close(); the client cleared the job's files
    assert app.con.sql("SELECT 1").fetchall() == [(1,)]
    assert sorted(p.name for p in folder.iterdir()) == [spool.HEARTBEAT]


def test_the_heartbeat_beats_while_the_runner_lives_and_goes_with_it(app: App) -> None:
    first = spool.heartbeat(app.db)
    time.sleep(spool.BEAT_SECONDS * 1.6)
    second = spool.heartbeat(app.db)
    assert first is not None and second is not None and second.beat_at > first.beat_at
    app.runner.stop()
    assert spool.heartbeat(app.db) is None


def test_a_failing_job_returns_its_exit_code_and_stderr(app: App) -> None:
    code, out, err = run(app, "explain", "--db", str(app.db), "--period", "2024-09", "--target", "cc-nowhere")
    assert code == 1 and out == ""
    assert err.startswith("cannot explain cc-nowhere for 2024-09:")
    code, _, err = run(app, "allocate", "--db", str(app.db))        # argparse's usage error inside the app
    assert code == 2 and "the following arguments are required: --period, --ruleset" in err


def test_a_job_that_raises_exits_1_with_a_message_and_the_runner_goes_on(app: App) -> None:
    code, out, err = run(app, "boom")
    assert code == 1 and out == ""
    assert err == "the job failed inside the app: RuntimeError: the disk is on fire\n"
    assert app.runner.alive()
    assert run(app, "chatty", "--count", "1") == (0, "job line 0\n", "job warning 0\n")


def test_output_capture_does_not_leak_between_threads(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    stop = threading.Event()

    def session() -> None:   # another thread of the app printing while the job runs
        n = 0
        while not stop.is_set():
            print(f"session line {n}")
            n += 1
            time.sleep(0.005)

    t = threading.Thread(target=session)
    t.start()
    try:
        code, out, err = run(app, "chatty", "--count", "40")
        print("test thread line")
    finally:
        stop.set()
        t.join()
    assert code == 0
    assert out.splitlines() == [f"job line {i}" for i in range(40)]
    assert err.splitlines() == [f"job warning {i}" for i in range(40)]
    seen = capsys.readouterr()
    assert "session line 0" in seen.out and "test thread line" in seen.out
    assert "job" not in seen.out + seen.err


def test_a_job_not_picked_up_in_time_is_withdrawn(tmp_path: Path) -> None:
    db = tmp_path / "idle.duckdb"
    store.connect(db).close()
    spool.write_json(spool.ensure(db) / spool.HEARTBEAT,
                     {"pid": os.getpid(), "store": str(db.resolve()), "beat_at": time.time() + 60, "running": None})
    err = Text()
    started = time.monotonic()
    job = client.submit(db, ["audit", "verify"])
    code = client.follow(db, job, 0.5, out=Text(), err=err)  # type: ignore[arg-type]
    assert code == 1 and time.monotonic() - started < 5
    assert err.text() == (f"the app holding {db} did not pick the job up within 0.5 s (it runs one job at a time); "
                          "nothing was run (use --wait SECONDS to wait longer)\n")
    assert not job.file(".job").exists()


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_job_file_of_another_user_is_refused(app: App) -> None:
    job = client.Submitted(spool.new_id(), spool.folder(app.db))
    tmp = job.folder / ".foreign.tmp"
    spool.write_json(tmp, {"argv": ["audit", "verify"], "cwd": "/", "user": "mallory", "submitted_at": 0, "pid": 1})
    os.chown(tmp, 4242, 4242)
    os.replace(tmp, job.file(".job"))       # appears whole, already another user's
    err = Text()
    code = client.follow(app.db, job, 5, out=Text(), err=err)  # type: ignore[arg-type]
    assert code == 1 and "refused job" in err.text() and "must belong to the app's user" in err.text()
    assert job.file(".refused").exists() and not job.file(".result").exists()
