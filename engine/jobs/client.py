"""The CLI's side of a job: submit it to the app's runner, follow its output, return its exit code.

`--wait` bounds how long the client waits for the app to pick the job up (a busy runner works one job at a time);
a claimed job is followed to its end while the app's heartbeat stays fresh, because leaving early would not stop it
and an exit code saying otherwise would lie. If the heartbeat goes stale while the job runs, the client says so and
exits 1.
"""

from __future__ import annotations

import codecs
import getpass
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from engine.jobs import spool

FOLLOW_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Submitted:
    id: str
    folder: Path

    def file(self, suffix: str) -> Path:
        return self.folder / f"{self.id}{suffix}"


def submit(db: Path, argv: list[str], *, cwd: Path | None = None) -> Submitted:
    """Write `<id>.job` atomically (argv, cwd, user, submitted_at, pid): it is either whole or absent."""
    folder = spool.ensure(db)
    job_id = spool.new_id()
    spool.write_json(folder / f"{job_id}.job", {
        "argv": argv, "cwd": str(cwd or Path.cwd()), "user": getpass.getuser(), "submitted_at": time.time(),
        "pid": os.getpid()})
    return Submitted(job_id, folder)


class _Tail:
    """Prints what a job wrote to one of its streams since the last look (bytes, decoded incrementally)."""

    def __init__(self, path: Path, stream: TextIO) -> None:
        self.path = path
        self.stream = stream
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return
        if data:
            self.offset += len(data)
            self.stream.write(self.decoder.decode(data))
            self.stream.flush()

    def finish(self, whole: str) -> None:
        """The rest of the job's text after what was already printed."""
        rest = whole.encode("utf-8")[self.offset:]
        self.stream.write(self.decoder.decode(rest, final=True))
        self.stream.flush()


def _withdraw(job: Submitted) -> bool:
    """Take a job back before the runner claims it; False when it was claimed meanwhile."""
    try:
        job.file(".job").unlink()
        return True
    except FileNotFoundError:
        return False


def follow(db: Path, job: Submitted, wait_seconds: float, *, out: TextIO | None = None,
           err: TextIO | None = None) -> int:
    """Print the job's output as it comes and return its exit code (1 when it was not run or the app went away)."""
    out = out or sys.stdout
    err = err or sys.stderr
    tails = (_Tail(job.file(".out"), out), _Tail(job.file(".err"), err))
    deadline = time.monotonic() + wait_seconds
    while True:
        result = spool.read_json(job.file(".result"))
        if result is not None:
            tails[0].finish(str(result.get("stdout", "")))
            tails[1].finish(str(result.get("stderr", "")))
            for suffix in (".result", ".out", ".err"):
                job.file(suffix).unlink(missing_ok=True)
            code = result.get("exit_code", 1)
            return code if isinstance(code, int) else 1
        for t in tails:
            t.poll()
        if job.file(".refused").exists():
            print(f"the app holding {db} refused job {job.id}: its file must belong to the app's user "
                  f"(uid {os.getuid()} submitted it)", file=err)
            return 1
        claimed = not job.file(".job").exists()
        hb = spool.heartbeat(db)
        alive = hb is not None and hb.fresh()
        if not claimed and (time.monotonic() > deadline or not alive) and _withdraw(job):
            why = (f"did not pick the job up within {wait_seconds:g} s (it runs one job at a time)" if alive
                   else "stopped taking jobs")
            print(f"the app holding {db} {why}; nothing was run (use --wait SECONDS to wait longer)", file=err)
            return 1
        if claimed and not alive and spool.read_json(job.file(".result")) is None:
            print(f"the app holding {db} stopped while it ran job {job.id}; check the store before running the "
                  "command again", file=err)
            return 1
        time.sleep(FOLLOW_POLL_SECONDS)


def run_in_app(db: Path, argv: list[str], wait_seconds: float) -> int:
    """Submit `argv` (already made absolute) to the app holding `db` and follow it to its exit code."""
    print(f"{db} is held by the app: running the command there", file=sys.stderr)
    return follow(db, submit(db, argv), wait_seconds)
