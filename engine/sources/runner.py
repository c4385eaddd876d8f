"""Run one source now, or every source that is due: fetch (no store writes), then the same ingest pipeline as an
upload, then one transaction that records the run, moves the cursor and audits it.

A failed fetch writes nothing but the run's own record (status 'failed' and why): the cursor stays, so the next
run asks for the same changes again. If the process stops between the pipeline's load and the run's record, the
next run fetches the same rows, the pipeline finds the same content hash, and nothing loads twice.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb

from engine import store
from engine.access import policy
from engine.access.users import User
from engine.errors import ApportionError
from engine.ingest.pipeline import IngestResult, ingest_file
from engine.reconcile.matching import lifecycle_events
from engine.sources import folder
from engine.sources.config import Source, get_source, list_sources, secret_for
from engine.sources.http import Client, Limits, PollFailed
from engine.sources.pollers import POLLERS
from engine.store import audit

Status = Literal["loaded", "nothing_new", "failed", "skipped"]
Trigger = Literal["manual", "schedule", "cli"]
SCHEDULER = User("scheduler", "Source scheduler", "admin", None)   # a headless job runs unscoped
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass
class RunResult:
    source: str
    status: Status
    message: str
    run_id: str = ""
    calls: int = 0
    retries: int = 0
    rows_fetched: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    batch_ids: list[str] = field(default_factory=list)
    events: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "nothing_new")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def next_run_at(src: Source) -> datetime | None:
    """When the scheduler runs it next (naive UTC); None while paused. A source never run is due at once."""
    if src.paused:
        return None
    last = src.last_attempt_at
    return src.created_at if last is None else last + timedelta(minutes=src.interval_minutes)


def limits_for(src: Source) -> Limits:
    return Limits(max_seconds=float(src.option("max_seconds", 300)), attempts=int(src.option("attempts", 5)),
                  min_interval=float(src.option("min_interval_seconds", 0.0)))


def _lock(name: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(name, threading.Lock())


def run_source(con: duckdb.DuckDBPyConnection, name: str, user: User, *, trigger: Trigger = "manual",
               limits: Limits | None = None, environ: dict[str, str] | None = None,
               isolate: bool = True) -> RunResult:
    """Run one source now (finops/admin, or the scheduler). Never raises for a source's trouble: a failed run
    comes back as status 'failed' with the reason, recorded on the source."""
    policy.require(user, "manage_sources", "run a source")
    src = get_source(con, name)
    lock = _lock(name)
    if not lock.acquire(blocking=False):
        return RunResult(name, "skipped", f"source '{name}' is running already; this run was not started")
    started = _now()
    t0 = time.perf_counter()
    res = RunResult(name, "failed", "", run_id=uuid.uuid4().hex[:16])
    cursor_after = src.cursor
    try:
        if src.mode == "folder":
            _run_folder(con, src, user, res, isolate)
        else:
            cursor_after = _run_poll(con, src, user, res, limits or limits_for(src), environ, isolate)
    except ApportionError as exc:
        res.status, res.message = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - a source's fault must not stop the scheduler; recorded as the reason
        res.status, res.message = "failed", f"unexpected {type(exc).__name__}: {exc}"
    finally:
        try:
            res.seconds = time.perf_counter() - t0
            _record(con, src, user, trigger, started, res, cursor_after if res.ok else src.cursor)
        finally:
            lock.release()
    return res


def _run_poll(con: duckdb.DuckDBPyConnection, src: Source, user: User, res: RunResult, limits: Limits,
              environ: dict[str, str] | None, isolate: bool) -> str | None:
    poll = POLLERS.get(src.kind)
    if poll is None:
        raise PollFailed(f"source '{src.name}': no poller for kind '{src.kind}'")
    token = secret_for(src, environ)
    client = Client(src.endpoint, limits, token=token, auth_scheme=str(src.option("auth_scheme", "Bearer")))
    try:
        with client:
            fetched = poll(client, src, src.cursor)
    finally:
        res.calls, res.retries = client.calls, client.retries
    res.rows_fetched = fetched.rows
    if fetched.rows == 0:
        res.status, res.message = "nothing_new", f"{src.name}: nothing changed since the last success"
        return fetched.cursor
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="apportion-poll-") as d:
        path = Path(d) / f"{src.name}-{stamp}.json"
        path.write_text(json.dumps(fetched.document, sort_keys=True, ensure_ascii=False), encoding="utf-8")
        before = _assets_of(con, fetched.connector)
        # a configured source is standing consent to replace the months it re-delivers (the batch records it)
        result = ingest_file(con, path, kind=fetched.connector, user=user.username, file_name=path.name,
                             isolate=isolate, replace=True)
    _take(res, result)
    if result.status == "loaded" and result.batch_id and result.target_table == "asset" and before is not None:
        res.events = _record_events(con, src, res.run_id, result.batch_id, before)
    if result.status == "refused":
        raise PollFailed("; ".join(result.messages) or "the pipeline refused the fetched rows")
    return fetched.cursor


def _take(res: RunResult, result: IngestResult) -> None:
    res.rows_loaded += result.rows_loaded if result.status == "loaded" else 0
    res.rows_quarantined += result.rows_quarantined if result.status == "loaded" else 0
    if result.status == "loaded" and result.batch_id:
        res.batch_ids.append(result.batch_id)
    res.status = "loaded" if res.batch_ids else "nothing_new"
    res.message = "; ".join(filter(None, [res.message, *result.messages, *result.warnings]))


def _assets_of(con: duckdb.DuckDBPyConnection, source_kind: str) -> Any:
    return con.sql("SELECT * FROM asset WHERE source = ?", params=[source_kind]).pl()


def _record_events(con: duckdb.DuckDBPyConnection, src: Source, run_id: str, batch_id: str, before: Any) -> int:
    after = con.sql("SELECT * FROM asset WHERE batch_id = ?", params=[batch_id]).pl()
    ids = set(after["asset_id"].to_list())
    prior = before.filter(before["asset_id"].is_in(list(ids)))
    events = lifecycle_events(prior, after)
    if events.is_empty():
        return 0
    with store.transaction(con):
        con.executemany(
            "INSERT INTO asset_lifecycle_event (run_id, source_name, batch_id, asset_id, event, field, before_value, "
            "after_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [[run_id, src.name, batch_id, e["asset_id"], e["event"], e["field"], e["before"], e["after"]]
             for e in events.to_dicts()])
    return events.height


def _run_folder(con: duckdb.DuckDBPyConnection, src: Source, user: User, res: RunResult, isolate: bool) -> None:
    seen = folder.look(con, src.name, Path(src.endpoint), str(src.option("pattern", "*")),
                       float(src.option("settle_seconds", 30)))
    notes = [f"{n}: {why}" for n, why in seen.waiting]
    refused: list[str] = []
    now = _now()
    for s in seen.observed:
        _file_row(con, src.name, s.name, s.size, s.mtime_ns, now, "pending", None, None)
    for path in seen.ready:
        st = path.stat()
        result = ingest_file(con, path, user=user.username, file_name=path.name, isolate=isolate,
                             replace=True)   # a drop folder is standing consent to replace re-delivered months
        res.rows_fetched += result.rows_read
        _take(res, result)
        status = {"loaded": "loaded", "duplicate": "duplicate"}.get(result.status, "refused")
        _file_row(con, src.name, path.name, st.st_size, st.st_mtime_ns, now, status, result.batch_id,
                  "; ".join(result.messages)[:2000])
        if status == "refused":
            refused.append("; ".join(result.messages))
    loaded = len(res.batch_ids)
    summary = f"{src.name}: {loaded} file(s) loaded, {len(seen.ready) - loaded - len(refused)} already loaded"
    if notes:
        summary += f", {len(notes)} waiting ({'; '.join(notes)})"
    res.message = "; ".join(filter(None, [summary, res.message]))
    if refused:
        raise PollFailed(f"{summary}; refused: {'; '.join(refused)}")
    if not loaded:
        res.status = "nothing_new"


def _file_row(con: duckdb.DuckDBPyConnection, source: str, name: str, size: int, mtime_ns: int, at: datetime,
              status: str, batch_id: str | None, message: str | None) -> None:
    with store.transaction(con):
        con.execute("DELETE FROM source_file WHERE source_name = ? AND file_name = ?", [source, name])
        con.execute("INSERT INTO source_file VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [source, name, size, mtime_ns, at, status, batch_id, message])


def _record(con: duckdb.DuckDBPyConnection, src: Source, user: User, trigger: Trigger, started: datetime,
            res: RunResult, cursor_after: str | None) -> None:
    finished = _now()
    with store.transaction(con):
        con.execute(
            "INSERT INTO source_run VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [res.run_id, src.name, trigger, user.username, started, finished, res.status, res.calls, res.retries,
             res.rows_fetched, res.rows_loaded, res.rows_quarantined, ",".join(res.batch_ids) or None, src.cursor,
             cursor_after, res.message[:4000]])
        if res.ok:
            con.execute("UPDATE source SET cursor = ?, last_success_at = ?, last_attempt_at = ?, last_error = NULL "
                        "WHERE name = ?", [cursor_after, finished, finished, src.name])
        else:
            con.execute("UPDATE source SET last_attempt_at = ?, last_error = ? WHERE name = ?",
                        [finished, res.message[:4000], src.name])
        audit.record(con, user.username, "source_run", "source", src.name,
                     {"run_id": res.run_id, "trigger": trigger, "status": res.status, "calls": res.calls,
                      "rows_loaded": res.rows_loaded, "batches": res.batch_ids, "cursor_before": src.cursor,
                      "cursor_after": cursor_after, "message": res.message[:500]})


def due(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> list[Source]:
    at = now or _now()
    return [s for s in list_sources(con) if (n := next_run_at(s)) is not None and n <= at]


def run_due(con: duckdb.DuckDBPyConnection, user: User = SCHEDULER, *, trigger: Trigger = "schedule",
            now: datetime | None = None) -> list[RunResult]:
    """Run every unpaused source whose next run has come, one after another (one writer)."""
    return [run_source(con, s.name, user, trigger=trigger) for s in due(con, now)]
