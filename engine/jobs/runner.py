"""The app's job runner: one per process and store, like the sources scheduler (engine/sources/scheduler.py).

Two daemon threads. The heartbeat thread rewrites `runner.json` every BEAT_SECONDS while the job thread is alive
(naming the job it runs), so a CLI knows the app takes jobs. The job thread claims the oldest `<id>.job` by renaming
it to `<id>.running` (atomic: a job is claimed once), runs `engine.__main__.main(argv)` with the job's own cursor of
the app's connection bound for `engine.cli.open_store` and its stdout/stderr captured, then writes `<id>.result`
atomically (exit code, stdout, stderr, timings). Jobs run one at a time, in submission order.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import stat
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, TextIO

import duckdb

from engine.errors import ApportionError, InputError
from engine.jobs import capture, spool
from engine.jobs.context import JobStore, bound

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
KEEP_RESULTS_SECONDS = 24 * 3600   # results nobody collected (a client that died) are swept after a day


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _private(path: Path) -> TextIO:
    """A new text file only this user can read (the job's live output)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8")


def run_job(con: duckdb.DuckDBPyConnection, db: Path, job_id: str, job: dict[str, Any],
            folder: Path) -> dict[str, Any]:
    """Run one job on its own cursor; never raises. Returns the result written to `<id>.result`."""
    from engine.__main__ import main  # noqa: PLC0415 - the CLI's entry imports every command; only jobs need it

    started = time.time()
    cursor = con.cursor()
    with _private(folder / f"{job_id}.out") as out_f, _private(folder / f"{job_id}.err") as err_f:
        out, err = capture.Sink(out_f), capture.Sink(err_f)
        with capture.captured(out, err), bound(JobStore(db, cursor, job_id)):
            try:
                argv = job.get("argv")
                if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
                    raise InputError("the job's argv is not a list of strings")
                code = int(main(argv))
            except SystemExit as exc:    # argparse's usage errors, sys.exit in a command
                code = _exit_code(exc.code)
            except ApportionError as exc:
                print(f"{exc}", file=sys.stderr)
                code = 1
            except Exception as exc:  # noqa: BLE001 - a job's fault must not stop the runner; the client reads it
                print(f"the job failed inside the app: {type(exc).__name__}: {exc}", file=sys.stderr)
                log.error("job %s failed:\n%s", job_id, traceback.format_exc())
                code = 1
            finally:
                try:
                    cursor.close()
                except duckdb.Error:
                    pass
    finished = time.time()
    return {"id": job_id, "exit_code": code, "stdout": out.text(), "stderr": err.text(),
            "submitted_at": job.get("submitted_at"), "started_at": started, "finished_at": finished,
            "seconds": round(finished - started, 3), "runner_pid": os.getpid()}


class Runner:
    """The job and heartbeat threads for one store; `stop()` ends both and removes the heartbeat."""

    def __init__(self, con: duckdb.DuckDBPyConnection, db: Path) -> None:
        self.con: duckdb.DuckDBPyConnection | None = con
        self.db = db.expanduser().resolve()
        self.folder = spool.ensure(self.db)
        self.stopped = threading.Event()
        self.running: str | None = None
        self.jobs = threading.Thread(target=self._jobs, name="apportion-jobs", daemon=True)
        self.beat = threading.Thread(target=self._beat, name="apportion-jobs-heartbeat", daemon=True)

    def start(self) -> Runner:
        self._recover()
        capture.install()
        self._write_heartbeat()
        self.jobs.start()
        self.beat.start()
        return self

    def alive(self) -> bool:
        return self.jobs.is_alive() and self.beat.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopped.set()
        self.jobs.join(timeout)
        self.beat.join(timeout)
        (self.folder / spool.HEARTBEAT).unlink(missing_ok=True)
        if not self.jobs.is_alive():
            self.con = None   # the app's connection is the app's to close; this runner holds it no longer

    def _write_heartbeat(self) -> None:
        spool.write_json(self.folder / spool.HEARTBEAT, {"pid": os.getpid(), "store": str(self.db),
                                                          "beat_at": time.time(), "running": self.running},
                         durable=False)

    def _beat(self) -> None:
        while not self.stopped.wait(spool.BEAT_SECONDS):
            if not self.jobs.is_alive():
                return        # no one takes jobs any more: let the heartbeat go stale
            try:
                self._write_heartbeat()
            except OSError:
                log.exception("job runner heartbeat failed")

    def _recover(self) -> None:
        """A job left running by an app that died gets a result saying so; old uncollected results go."""
        now = time.time()
        for p in self.folder.glob("*.running"):
            job_id = p.name.removesuffix(".running")
            spool.write_json(self.folder / f"{job_id}.result", {
                "id": job_id, "exit_code": 1, "stdout": "", "seconds": 0.0,
                "stderr": "the app stopped while it ran this job; check the store before running it again\n"})
            p.unlink(missing_ok=True)
        for p in self.folder.glob("*.result"):
            try:
                if now - p.stat().st_mtime > KEEP_RESULTS_SECONDS:
                    for suffix in (".result", ".out", ".err"):
                        p.with_suffix(suffix).unlink(missing_ok=True)
            except OSError:
                continue

    def _claim(self) -> tuple[str, dict[str, Any]] | None:
        for p in sorted(self.folder.glob("*.job")):
            job_id = p.name.removesuffix(".job")
            claimed = p.with_suffix(".running")
            try:
                os.rename(p, claimed)
            except FileNotFoundError:
                continue          # withdrawn by its client (or claimed) meanwhile
            try:
                st = claimed.lstat()
                spool.check_owner(claimed, st)
                if not stat.S_ISREG(st.st_mode):
                    raise InputError("not a regular file")
                job = json.loads(claimed.read_text(encoding="utf-8"))
                if not isinstance(job, dict):
                    raise InputError("not a JSON object")
            except (ApportionError, OSError, ValueError) as exc:
                log.warning("job file %s refused: %s", claimed, exc)
                claimed.rename(claimed.with_suffix(".refused"))
                continue
            return job_id, job
        return None

    def _jobs(self) -> None:
        while not self.stopped.is_set():
            try:
                claimed = self._claim()
            except OSError:
                log.exception("job runner cannot read %s", self.folder)
                claimed = None
            if claimed is None:
                self.stopped.wait(POLL_SECONDS)
                continue
            job_id, job = claimed
            con = self.con
            if con is None:
                return
            self.running = job_id
            log.info("job %s: %s (submitted by %s, pid %s)", job_id, job.get("argv"), job.get("user"),
                     job.get("pid"))
            result = run_job(con, self.db, job_id, job, self.folder)
            try:
                spool.write_json(self.folder / f"{job_id}.result", result)
            except OSError:
                log.exception("job %s: cannot write its result", job_id)
            (self.folder / f"{job_id}.running").unlink(missing_ok=True)
            self.running = None
            log.info("job %s: exit %s in %.1f s", job_id, result["exit_code"], result["seconds"])


_STARTED: dict[str, Runner] = {}
_GUARD = threading.Lock()


@atexit.register
def _stop_all() -> None:
    """At exit: stop taking jobs and remove the heartbeats (clients then wait for the lock instead of submitting),
    and let go of the app's connection before the interpreter tears DuckDB down."""
    with _GUARD:
        runners = list(_STARTED.values())
        _STARTED.clear()
    for r in runners:
        r.stop(timeout=2.0)


def start(con: duckdb.DuckDBPyConnection, db: Path) -> Runner:
    """Start the process's runner for the store `db` once; later calls return the running one."""
    key = str(db.expanduser().resolve())
    with _GUARD:
        r = _STARTED.get(key)
        if r is None or not r.alive():
            r = Runner(con, db).start()
            _STARTED[key] = r
        return r
