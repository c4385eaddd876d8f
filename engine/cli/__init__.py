"""CLI commands, one module each (see engine/__main__.py).

While the app runs it holds the store read-write and DuckDB has no second writer process, so a command is run by
the app (engine/jobs/, docs/architecture.md "Jobs while the app runs"): `run_command` routes the whole command line
there when the app's job runner has a fresh heartbeat, and `open_store` hands a command running inside the app the
job's cursor of the app's connection instead of opening the file.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

import duckdb

from engine import store
from engine.jobs import argv as job_argv
from engine.jobs import client, context, spool
from engine.settings import get_settings

NOT_IN_APP = frozenset({"restore"})   # replaces the file the app holds: only with the app stopped
LOCK_POLL_SECONDS = 0.5
_WAIT: ContextVar[float | None] = ContextVar("apportion_cli_wait", default=None)
_HOLDER = re.compile(r"lock is held in (?P<exe>\S+) \(PID (?P<pid>\d+)\)")


class _RouteToApp(BaseException):  # noqa: N818 - a signal, not an error: `run_command` turns it into a job
    """Raised by `open_store` when the app holds the store and takes jobs; caught by `run_command` only."""

    def __init__(self, db: Path) -> None:
        super().__init__(str(db))
        self.db = db


def resolve_db(db: str | None) -> Path:
    """`--db` wins; otherwise APPORTION_DB_PATH / secrets / default, as the app resolves it."""
    return Path(db) if db else get_settings().db_path


def wait_seconds() -> float:
    """This command's `--wait`, else the `cli_wait_seconds` setting."""
    w = _WAIT.get()
    return get_settings().cli_wait_seconds if w is None else w


def _holder(exc: duckdb.Error) -> str:
    m = _HOLDER.search(str(exc))
    return f"process {m['pid']} ({Path(m['exe']).name})" if m else "another process"


def open_store(db_arg: str | None, *, read_only: bool = False,
               create: bool = False) -> duckdb.DuckDBPyConnection | None:
    """The store a command works on, or None after saying on stderr (one line) why it cannot be opened.

    Inside a job run by the app: the job's cursor of the app's connection (closing it leaves the app's connection
    open). A store held by an app whose job runner is alive: the command is routed to the app. Held by anyone else:
    wait up to `--wait` seconds for it, naming the holder. `create`: a new store file may be made in an existing
    folder (a missing folder is refused with its path); without it a missing store is refused."""
    db = resolve_db(db_arg)
    job = context.current()
    if job is not None and (db_arg is None or db.expanduser().resolve() == job.path):
        return job.cursor
    if not db.exists():
        if not create:
            print(f"there is no store at {db}", file=sys.stderr)
            return None
        if not db.parent.is_dir():
            print(f"cannot create a store at {db}: the folder {db.parent} does not exist", file=sys.stderr)
            return None
    wait = wait_seconds()
    deadline = time.monotonic() + wait
    said = False
    while True:
        try:
            return store.connect(db, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                print(f"cannot open {db}: {str(exc).splitlines()[0]}", file=sys.stderr)
                return None
            if job is None and spool.live_runner(db) is not None:
                raise _RouteToApp(db) from None
            if time.monotonic() >= deadline:
                print(f"cannot open {db}: held by {_holder(exc)} for {wait:g} s and no app job runner is alive "
                      "to run the command (try again later, or --wait SECONDS)", file=sys.stderr)
                return None
            if not said:
                print(f"{db} is held by {_holder(exc)}: waiting up to {wait:g} s for it", file=sys.stderr)
                said = True
            time.sleep(min(LOCK_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        except duckdb.Error as exc:
            print(f"cannot open {db}: {str(exc).splitlines()[0]}", file=sys.stderr)
            return None


def run_command(run: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Run one parsed command here, or in the app when the app holds its store (engine/__main__.py calls this)."""
    token = _WAIT.set(getattr(args, "wait", None))
    try:
        inside = context.current() is not None
        db = resolve_db(getattr(args, "db", None))
        if not inside and spool.live_runner(db) is not None:
            return _route(db, args, parser, argv)
        try:
            return int(run(args))
        except _RouteToApp as route:
            return _route(route.db, args, parser, argv)
    finally:
        _WAIT.reset(token)


def _route(db: Path, args: argparse.Namespace, parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    if args.command in NOT_IN_APP:
        print(f"`{args.command}` replaces the store file the app holds ({db}): stop the app first", file=sys.stderr)
        return 1
    full = job_argv.absolute(list(sys.argv[1:] if argv is None else argv), parser, args, Path.cwd(),
                             db.expanduser().resolve())
    return client.run_in_app(db, full, wait_seconds())
