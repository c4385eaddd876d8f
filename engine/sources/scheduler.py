"""The in-app scheduler: one daemon thread per process that runs due sources on its own cursor.

The app process holds the DuckDB file read-write (the store's single writer), so while it runs, the jobs run in it
(docs/sources.md); `python -m engine sources run --due` serves when the app is not running (cron / systemd timer).
"""

from __future__ import annotations

import logging
import threading

import duckdb

from engine.sources.runner import run_due

log = logging.getLogger(__name__)


class Scheduler(threading.Thread):
    def __init__(self, con: duckdb.DuckDBPyConnection, tick_seconds: float) -> None:
        super().__init__(name="apportion-sources", daemon=True)
        self.con = con.cursor()
        self.tick = tick_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.tick):     # first look one tick after start: a fresh app settles first
            try:
                for r in run_due(self.con):
                    log.info("source %s: %s — %s", r.source, r.status, r.message[:200])
            except Exception:  # noqa: BLE001 - the thread must outlive one bad tick; logged with its traceback
                log.exception("sources scheduler tick failed")

    def stop(self) -> None:
        self.stopped.set()


_STARTED: dict[str, Scheduler] = {}
_GUARD = threading.Lock()


def start(con: duckdb.DuckDBPyConnection, key: str, tick_seconds: float) -> Scheduler:
    """Start the process's scheduler for the store `key` once; later calls return the running one."""
    with _GUARD:
        s = _STARTED.get(key)
        if s is None or not s.is_alive():
            s = Scheduler(con, tick_seconds)
            s.start()
            _STARTED[key] = s
        return s
