"""The ingest pipeline: detect → stage in a sandboxed child → one transaction that writes the batch, its rows and its
quarantine, keyed by the file's SHA-256.

Same file again is a no-op that says so. A re-delivered billing month (same provider, billing account and period)
is not replaced silently: without `replace=True` the result is 'needs_confirmation' with what the file would replace
(`pending`, engine/ingest/redelivery.py) and nothing is written; with it the earlier rows for that month are replaced
in the same transaction (and kept for a rollback). For other tables a row with the same natural key replaces the
earlier one (reported, not gated). Whatever `target_table` a connector names is written, so inventory, driver and
licence connectors reuse this pipeline unchanged (docs/ingestion.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl

from engine import store
from engine.errors import InputError, IntegrityError, NotFound
from engine.ingest.contract.connector import FileRefused
from engine.ingest.contract.frames import stored_columns, target_columns
from engine.ingest.contract.rules import StagePlan, lit, q, rules_for
from engine.ingest.contract.safe_read import TEXT_HYGIENE
from engine.ingest.redelivery import Replacement, billing, describe, drop_warnings, keyed
from engine.ingest.sandbox import Limits, run_isolated
from engine.ingest.staging import (
    ACCEPTED,
    REJECTED,
    STAGED,
    StageMeta,
    compile_direct_plan,
    direct_select_sql,
    plan_fingerprint,
    stage,
    uses_row_numbers,
)
from engine.ingest.workdirs import make_workdir, sweep
from engine.insights.anomalies.jobs import detect_after_ingest
from engine.store import audit, rollup
from engine.store.sql import frame

Progress = Callable[[float, str], None]
Status = Literal["loaded", "duplicate", "refused", "staged", "needs_confirmation"]
HASH_FIRST_BYTES = 256 * 1024 * 1024


@dataclass
class IngestResult:
    """Everything a page or the CLI shows about one file."""

    file: str
    status: Status
    batch_id: str | None = None
    kind: str | None = None
    target_table: str | None = None
    content_hash: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    replaced: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)     # first quarantine reasons, for the summary
    # what the file replaces: would replace (needs_confirmation, dry runs), did replace (loaded)
    pending: list[Replacement] = field(default_factory=list)
    refusal: dict[str, Any] | None = None                 # refused: {file, row, column, expected} of the refusal
    seconds: float = 0.0
    parse_seconds: float = 0.0                            # the child's share of `seconds` (parse + validate)
    preview: pl.DataFrame | None = None                   # dry runs: first accepted rows
    quarantine_preview: pl.DataFrame | None = None

    @property
    def ok(self) -> bool:
        """Loaded, checked or unchanged: not refused and not waiting for a confirmation."""
        return self.status not in ("refused", "needs_confirmation")


def file_sha256(path: Path, chunk: int = 8 * 1024 * 1024) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _noop_progress(_: float, __: str) -> None:
    return None


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    *,
    kind: str | None = None,
    options: dict[str, Any] | None = None,
    user: str = "system",
    file_name: str | None = None,
    isolate: bool = True,
    limits: Limits | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
    direct: bool = True,
    replace: bool = False,
    _test_hooks: dict[str, Any] | None = None,
) -> IngestResult:
    """Load one file. Never raises for a bad file: a refusal comes back as status 'refused' with the reason.

    `isolate=False` parses in this process (tests and trusted bulk jobs); `dry_run` stages and validates without
    writing, returning previews for the upload page. `direct` (default): SQL-plan billing connectors stage only
    their verdicts and the accepted rows are loaded straight from the file (docs/ingestion.md); `direct=False`
    stages every row and copies it (the path frame connectors always take).

    `replace`: a billing file covering a (provider, billing account, month) that a loaded batch holds is written only
    with `replace=True` (a person's confirmation, or a configured source's standing consent); otherwise the result is
    'needs_confirmation' with `pending` (what it would replace, amounts and drop warnings) and nothing is written.
    """
    p = Path(path)
    from engine.fx.convert import plan_options  # noqa: PLC0415 - FX rates in force ride in the plan (docs/fx.md)
    options = plan_options(con, options)
    name = file_name or p.name
    report = progress or _noop_progress
    lim = limits or Limits()
    t0 = time.perf_counter()
    result = IngestResult(file=name, status="refused")
    sweep()   # folders of ingests whose process was killed (docs/reliability.md)
    workdir = make_workdir("apportion-ingest-")
    staged_path = workdir / "staged.duckdb"
    digest: dict[str, str] = {}
    hasher = threading.Thread(target=lambda: digest.update(h=file_sha256(p)), daemon=True)
    try:
        if not p.is_file():
            raise FileRefused(str(p), "an existing file (there is no file at this path)")
        report(0.02, f"Reading {name}")
        identity = _identity(p)
        if p.stat().st_size <= HASH_FIRST_BYTES:
            digest["h"] = file_sha256(p)   # cheap: know a repeat before spending a parse on it
            dup = None if dry_run else _already_loaded(con, digest["h"], name)
            if dup is not None:
                result.status, result.batch_id, result.content_hash = "duplicate", dup[0], digest["h"]
                result.messages.append(dup[1])
                return result
        else:
            hasher.start()   # large: hash while the child parses

        def staged_progress(frac: float) -> None:
            report(0.05 + 0.75 * frac, f"Parsing and validating {name}")

        narrow = direct and not dry_run

        def run_stage(precheck: bool) -> StageMeta:
            if isolate:
                return StageMeta.from_json(run_isolated(p, staged_path, kind=kind, options=options, limits=lim,
                                                        progress=staged_progress, test_hooks=_test_hooks,
                                                        direct=narrow, precheck=precheck))
            return stage(p, staged_path, kind=kind, options=options, threads=lim.threads, memory_mb=lim.memory_mb,
                         progress=staged_progress, direct=narrow, precheck=precheck)

        meta = run_stage(narrow)
        result.parse_seconds = meta.seconds
        if hasher.ident is not None:
            hasher.join()
        content_hash = digest["h"]
        result.content_hash, result.kind, result.target_table = content_hash, meta.kind, meta.target_table
        result.rows_read, result.warnings, result.problems = meta.rows_read, meta.warnings, meta.first_problems
        dup = None if dry_run else _already_loaded(con, content_hash, name)
        if dup is not None:
            result.status, result.batch_id = "duplicate", dup[0]
            result.messages.append(dup[1])
            return result
        _check_rows(meta, name)
        if dry_run:
            result.status = "staged"
            result.preview, result.quarantine_preview = _previews(staged_path)
            result.rows_loaded, result.rows_quarantined = meta.rows_accepted, meta.rows_quarantined
            result.messages.append(f"{name}: checked {meta.rows_read} rows, {meta.rows_accepted} rows would load "
                                   f"into {meta.target_table}, {meta.rows_quarantined} would be quarantined")
            result.pending = _would_replace(con, staged_path, meta)
            result.messages += describe(name, result.pending, done=False)
            result.warnings += drop_warnings(result.pending)
            return result
        batch_id = f"{content_hash[:16]}-{uuid.uuid4().hex[:8]}"

        def write(m: StageMeta) -> None:
            fast = bool(m.direct and m.direct.get("precheck"))
            what = f"Checking and writing {m.rows_read:,} rows" if fast else f"Writing {m.rows_accepted:,} rows"
            report(0.82, what)

            def load_progress(seconds: float) -> None:
                report(0.82, f"{what} — {seconds:.0f} s")

            load = _DirectLoad(p, workdir, identity, m, options, lim) if m.direct is not None else None
            _write(con, staged_path, m, name, content_hash, user, result, load, batch_id,
                   load_progress if progress else None, replace=replace)

        try:
            write(meta)
        except _NeedsConfirmation as ask:
            return _ask(result, name, ask.pending)
        except _NotEveryRowPassed:
            # the fast path's load found rows to quarantine (and wrote nothing): the full verdict pass numbers
            # them, then the load runs again
            report(0.5, f"Some rows of {name} need quarantine; checking every row")
            meta = run_stage(False)
            result.parse_seconds += meta.seconds
            result.rows_read, result.warnings, result.problems = meta.rows_read, meta.warnings, meta.first_problems
            _check_rows(meta, name)
            try:
                write(meta)
            except _NeedsConfirmation as ask:
                return _ask(result, name, ask.pending)
        # flags to messages; never fails the load (docs/anomalies.md). Within the load's memory budget: measured on
        # 10M lines, the scan's grouping sets took the parent from 1.7 GB to 2.8 GB RSS under DuckDB's default limit
        with _memory_budget(con, lim.load_memory_mb):
            detect_after_ingest(con, result, user)
        report(1.0, "Done")
        return result
    except FileRefused as exc:
        result.status = "refused"
        result.messages.append(str(exc))
        result.refusal = {"file": exc.file, "row": exc.row, "column": exc.column, "expected": exc.expected}
        return result
    finally:
        if hasher.is_alive():
            hasher.join()
        shutil.rmtree(workdir, ignore_errors=True)
        result.seconds = time.perf_counter() - t0


class _NeedsConfirmation(Exception):
    """Raised inside the write transaction (so whatever the fast path inserted is rolled back): the file would
    replace loaded billing months and `replace` was not given."""

    def __init__(self, pending: list[Replacement]) -> None:
        super().__init__("needs confirmation")
        self.pending = pending


def _ask(result: IngestResult, name: str, pending: list[Replacement]) -> IngestResult:
    result.status, result.pending, result.batch_id = "needs_confirmation", pending, None
    result.rows_loaded = 0
    batches = ", ".join(sorted({r.batch_id for r in pending}))
    result.messages.append(f"{name}: not loaded — it would replace loaded billing months of batch {batches}; "
                           "nothing was written. Confirm the replacement to load it (the replaced rows are kept: "
                           "rolling the new batch back restores them).")
    result.messages += describe(name, pending, done=False)
    result.warnings += drop_warnings(pending)
    return result


def _would_replace(con: duckdb.DuckDBPyConnection, staged_path: Path, meta: StageMeta) -> list[Replacement]:
    """A dry run's view of what the file would replace (nothing is written)."""
    if meta.target_table == "cost_line":
        return billing(con, meta.scope)
    alias = f"ask_{uuid.uuid4().hex[:8]}"
    con.execute(f"ATTACH '{staged_path}' AS {alias} (READ_ONLY)")
    try:
        return keyed(con, meta.target_table, f"SELECT * FROM {alias}.{ACCEPTED}")
    finally:
        con.execute(f"DETACH {alias}")


class _NotEveryRowPassed(Exception):
    """The fast path (a structural pre-check, the checks applied by the load itself) loaded fewer rows than the file
    has: the transaction is rolled back and the file goes through the full verdict pass."""


def _check_rows(meta: StageMeta, name: str) -> None:
    if meta.rows_read == 0:
        raise FileRefused(name, "at least one data row (the file has a header only)", row=2)
    if meta.rows_accepted == 0:
        first = meta.first_problems[0] if meta.first_problems else "no detail"
        raise FileRefused(name, f"at least one valid row: all {meta.rows_read} rows failed validation "
                          f"(first: {first})")


def _already_loaded(con: duckdb.DuckDBPyConnection, content_hash: str, name: str) -> tuple[str, str] | None:
    rows = con.sql(
        "SELECT batch_id, loaded_at, loaded_by FROM ingest_batch WHERE content_hash = ? AND status = 'loaded' "
        "ORDER BY loaded_at DESC LIMIT 1", params=[content_hash]
    ).fetchall()
    if not rows:
        return None
    b, at, by = rows[0]
    return b, f"{name}: already loaded as batch {b} ({at:%Y-%m-%d %H:%M} by {by}); nothing changed"


def _previews(staged_path: Path, n: int = 50) -> tuple[pl.DataFrame, pl.DataFrame]:
    c = duckdb.connect(str(staged_path), read_only=True)
    try:
        accepted = c.sql(f"SELECT * EXCLUDE (__row) FROM {ACCEPTED} ORDER BY __row LIMIT {n}").pl()
        bad = c.sql(f"SELECT __row AS row_number, __column AS column_name, __reason AS reason, __raw AS raw "
                    f"FROM {STAGED} WHERE __reason IS NOT NULL UNION ALL SELECT * FROM {REJECTED} "
                    f"ORDER BY row_number LIMIT {n}").pl()
    finally:
        c.close()
    return accepted, bad


def _period_label(meta: StageMeta) -> str | None:
    periods = sorted({s["billing_period"] for s in meta.scope})
    if not periods:
        return None
    return periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What must not change between the child's parse and the parent's load: device, inode, size, mtime."""
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class _DirectLoad:
    """The parent's half of direct mode: re-read a file the child already parsed within its limits, with the same
    compiled plan, and load the rows the child accepted (engine/staging.direct_select_sql)."""

    path: Path
    workdir: Path
    identity: tuple[int, int, int, int]
    meta: StageMeta
    options: dict[str, Any] | None
    limits: Limits

    def plan(self, name: str) -> StagePlan:
        info = self.meta.direct or {}
        source = Path(str(info.get("source", "")))
        # the source is the file itself, or the child's UTF-8 transcoding of it inside our private work directory
        if source != self.path and not (source.is_file() and source.resolve().is_relative_to(self.workdir.resolve())):
            raise FileRefused(name, "a parse result for this file (the parser reported another source)")
        opts = dict(self.options or {})
        with open(self.path, "rb") as f:
            if f.read(4) != b"PAR1":
                opts.pop("encoding", None)   # as the child: text is UTF-8 (or transcoded to it) by now
        plan = compile_direct_plan(source, self.meta.kind, opts, bool(info.get("rejects")))
        if plan_fingerprint(plan) != info.get("plan_sha256") or _identity(self.path) != self.identity:
            raise FileRefused(name, "a file that does not change while it is being loaded (it changed after it "
                              "was checked; nothing was written)")
        if _by_number(info) == 0 and not uses_row_numbers(plan):
            # nothing to exclude by number and nothing else reads `__row`: the same plan without CSV numbering,
            # so DuckDB may scan the file in parallel and out of order
            plan = compile_direct_plan(source, self.meta.kind, opts, bool(info.get("rejects")), row_numbers=False)
        return plan

    def check(self, name: str, inserted: int) -> None:
        if inserted != self.meta.rows_accepted or _identity(self.path) != self.identity:
            raise FileRefused(name, "a file that does not change while it is being loaded (the rows read differ "
                              f"from the rows checked: {inserted} vs {self.meta.rows_accepted}; nothing was written)")


def _by_number(info: dict[str, Any]) -> int:
    """How many rows the load must exclude by plan row id. Zero for a grouped verdict (no natural key): each row
    the child quarantined failed a check or its tags, and the load's own WHERE drops exactly those; the inserted
    count is still checked against the child's accepted count. (Measured, 2M FOCUS lines from CSV with one bad
    row: the numbered, ordered second load took ~20 s against ~11 s unnumbered.)"""
    return 0 if info.get("grouped") else int(info.get("excluded", 1))


@contextmanager
def _memory_budget(con: duckdb.DuckDBPyConnection, memory_mb: int) -> Iterator[None]:
    """DuckDB's memory limit set to `memory_mb` for the block, then put back."""
    before = _setting(con, "memory_limit")
    con.execute(f"SET memory_limit = '{int(memory_mb)}MB'")
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = {lit(before)}")


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return str(con.sql(f"SELECT current_setting('{name}')").fetchall()[0][0])


def _run_watched(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any],
                 progress: Callable[[float], None] | None) -> list[tuple[Any, ...]]:
    """Run one statement, reporting the seconds elapsed about four times a second (the load is most of a big file's
    time). DuckDB's own fraction is not used: for this statement it misleads (measured: ~99% within a second for a
    CSV read without sniffing, whose row estimate is ~40; ~27% at the end of a 10M-line Parquet load). The
    statement runs in a worker thread so that `progress` is called from the caller's thread (a Streamlit page can
    only draw from its script thread); errors are raised here as if the statement had run here."""
    if progress is None:
        return con.execute(sql, params).fetchall()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["rows"] = con.execute(sql, params).fetchall()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            box["exc"] = exc

    worker = threading.Thread(target=work, daemon=True)
    started = time.perf_counter()
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
        if worker.is_alive():
            progress(time.perf_counter() - started)
    if "exc" in box:
        raise box["exc"]
    return list(box["rows"])


def _write(con: duckdb.DuckDBPyConnection, staged_path: Path, meta: StageMeta, name: str, content_hash: str,
           user: str, result: IngestResult, load: _DirectLoad | None, batch_id: str,
           progress: Callable[[float], None] | None = None, *, replace: bool = False) -> None:
    """One transaction: replace what this file supersedes, insert rows and quarantine, record batch and audit.
    The rows come from the staged `accepted` view, or (direct mode) straight from the source file.
    `progress` gets the seconds the load statement has been running. Loaded billing months it would replace
    without `replace` raise `_NeedsConfirmation` before anything else is written (the fast path's inserted rows,
    whose scope is known only from them, are rolled back with the transaction)."""
    table = meta.target_table
    cols = [c for c, _ in target_columns(table)]
    col_list = ", ".join(q(c) for c in cols)
    alias = f"stg_{uuid.uuid4().hex[:8]}"
    plan = load.plan(name) if load is not None else None
    con.execute(f"ATTACH '{staged_path}' AS {alias} (READ_ONLY)")
    saved = {k: _setting(con, k) for k in ("preserve_insertion_order", "memory_limit", "threads",
                                           "disabled_optimizers")}
    # Row order in the store means nothing (rows carry their own keys); letting DuckDB insert out of order lets
    # both cores write. A CSV/JSON plan numbers its rows with row_number() OVER (), which must count in file order
    # for the excluded row ids to be the child's, so direct loads of those keep the order. Previous settings are
    # put back afterwards; a direct load also runs within the same memory/threads budget as the child.
    ordered = plan is not None and "row_number() OVER ()" in plan.source_sql
    con.execute(f"SET preserve_insertion_order = {'true' if ordered else 'false'}")
    rejects = ("__rejects", "__rejects_scan")
    try:
        if plan is not None and load is not None:
            con.execute(f"SET memory_limit = '{int(load.limits.load_memory_mb)}MB'")
            con.execute(f"SET threads = {int(load.limits.threads)}")
            # A CSV read without sniffing has no row estimate (~40 rows), so the optimiser would build the tag
            # join's hash table on the file side — every row of the file held in memory. Keep the build side on
            # the right, the small tag dictionary (measured: 21.5 s → 15.1 s for 2M FOCUS lines from CSV).
            con.execute("SET disabled_optimizers = 'build_side_probe_side'")
            for stmt in plan.setup_sql:   # the connector's own lookup tables (TEMP), compiled by this process
                con.execute(stmt)
            for t in rejects:
                con.execute(f"DROP TABLE IF EXISTS temp.main.{t}")
        if plan is not None:
            # the child's pre-scan found control characters: compile the same text checks it ran
            token = TEXT_HYGIENE.set(bool((meta.direct or {}).get("hygiene")))
            try:
                select = direct_select_sql(plan, alias, exclude=_by_number(meta.direct or {}) > 0)
            finally:
                TEXT_HYGIENE.reset(token)
            source = f"SELECT *, ? FROM ({select})"
        else:
            source = f"SELECT {col_list}, ? FROM {alias}.{ACCEPTED}"
        insert = f"INSERT INTO {q(table)} ({col_list}, batch_id) {source}"
        # fast path (structural pre-check): the rows go in first and must all pass, and the scope comes from them
        fast = load is not None and bool(meta.direct and meta.direct.get("precheck"))
        with store.transaction(con):
            if fast and load is not None:
                inserted = int(_run_watched(con, insert, [batch_id], progress)[0][0])
                if inserted != meta.rows_read:
                    raise _NotEveryRowPassed(f"{inserted} of {meta.rows_read} rows passed")
                load.check(name, inserted)
                rollup.refresh(con, [batch_id])
                meta.scope = _scope_of_batch(con, batch_id)   # from the new rollup rows: no second pass
            pending = (billing(con, meta.scope, exclude_batch=batch_id) if table == "cost_line"
                       else keyed(con, table, f"SELECT * FROM {alias}.{ACCEPTED}"))
            if table == "cost_line" and pending and not replace:
                raise _NeedsConfirmation(pending)
            replaced = _replace_superseded(con, alias, meta, batch_id)
            con.execute(
                "INSERT INTO ingest_batch (batch_id, source_kind, file_name, content_hash, target_table, "
                "billing_period, loaded_by, rows_read, rows_loaded, rows_quarantined, status, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', ?)",
                [batch_id, meta.kind, name, content_hash, table, _period_label(meta), user, meta.rows_read,
                 meta.rows_accepted, meta.rows_quarantined, "; ".join(meta.warnings)[:2000] or None],
            )
            if not fast:
                inserted = int(_run_watched(con, insert, [batch_id], progress)[0][0])
                if load is not None:
                    load.check(name, inserted)
            if table == "cost_line":
                _verify_required(con, batch_id, name)
                # the dashboards' sums: the new batch's (the fast path has them already), what the superseded kept
                rollup.refresh(con, [*([] if fast else [batch_id]), *replaced])
            con.execute(f"INSERT INTO quarantine_row (batch_id, row_number, column_name, reason, raw) "
                        f"SELECT ?, __row, __column, __reason, __raw FROM {alias}.{STAGED} "
                        f"WHERE __reason IS NOT NULL", [batch_id])
            con.execute(f"INSERT INTO quarantine_row (batch_id, row_number, column_name, reason, raw) "
                        f"SELECT ?, row_number, column_name, reason, raw FROM {alias}.{REJECTED}", [batch_id])
            for s in meta.scope:
                con.execute(
                    "INSERT INTO ingest_batch_scope VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                    [batch_id, s["provider"], s["billing_account_id"], s["billing_period"], s["rows"],
                     s["billed_cost"], s["effective_cost"]],
                )
            audit.record(con, user, "ingest", "ingest_batch", batch_id,
                         {"file": name, "sha256": content_hash, "kind": meta.kind, "table": table,
                          "rows_loaded": meta.rows_accepted, "rows_quarantined": meta.rows_quarantined,
                          "replaced": replaced, "confirmed_replace": bool(replaced) and table == "cost_line",
                          "replaces": [r.as_dict() for r in pending]})
    finally:
        if plan is not None:
            for t in rejects:
                con.execute(f"DROP TABLE IF EXISTS temp.main.{t}")
        for k, v in saved.items():
            con.execute(f"SET {k} = {v if k == 'threads' else lit(v)}")
        con.execute(f"DETACH {alias}")
    result.status, result.batch_id, result.replaced = "loaded", batch_id, replaced
    result.rows_loaded, result.rows_quarantined = meta.rows_accepted, meta.rows_quarantined
    msg = (f"{name}: loaded {meta.rows_accepted} rows into {table} as batch {batch_id} "
           f"({meta.rows_quarantined} quarantined)")
    result.messages.append(msg)
    result.pending = pending
    result.messages += describe(name, pending, done=True)
    result.warnings += drop_warnings(pending)


def _verify_required(con: duckdb.DuckDBPyConnection, batch_id: str, name: str) -> None:
    """No written line lacks a required column (cost_line has no NOT NULL constraints since migration 0028: the
    checks quarantine such a line before the write; this is the store's own guard, inside the load's transaction,
    so a line that slipped through refuses the whole load instead of landing)."""
    required = (*rules_for("cost_line").required, "batch_id")
    missing = " + ".join(f"count(*) - count({q(c)})" for c in required)
    found = con.execute(f"SELECT {missing} FROM cost_line WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
    if found:
        raise IntegrityError(f"{name}: {found} value(s) of the required columns {', '.join(required)} would be "
                             "stored empty; nothing was loaded")


def _scope_of_batch(con: duckdb.DuckDBPyConnection, batch_id: str) -> list[dict[str, Any]]:
    """What a fast-path load wrote, per provider, billing account and period (as the child's verdict pass would
    have reported it): counts and exact sums of the rows, inside the load's transaction — read from the batch's
    rollup rows (engine/store/rollup.py), which are those sums one grouping finer."""
    return [
        {"provider": p, "billing_account_id": a, "billing_period": bp, "rows": int(n),
         "billed_cost": str(b), "effective_cost": str(e)}
        for p, a, bp, n, b, e in con.sql(
            "SELECT provider, coalesce(billing_account_id, ''), billing_period, sum(lines), sum(billed_cost), "
            "sum(effective_cost) FROM line_rollup WHERE batch_id = ? GROUP BY ALL ORDER BY ALL",
            params=[batch_id]).fetchall()
    ]


def _replace_superseded(con: duckdb.DuckDBPyConnection, alias: str, meta: StageMeta, batch_id: str) -> list[str]:
    """Delete what the new file supersedes; batches left empty become 'replaced'. Returns the touched batch ids."""
    table = meta.target_table
    if table == "cost_line":
        if not meta.scope:
            return []
        con.execute("CREATE OR REPLACE TEMP TABLE __new_scope (provider VARCHAR, account VARCHAR, period VARCHAR)")
        con.executemany("INSERT INTO __new_scope VALUES (?, ?, ?)",
                        [[s["provider"], s["billing_account_id"], s["billing_period"]] for s in meta.scope])
        touched = [r[0] for r in con.sql(
            "SELECT DISTINCT s.batch_id FROM ingest_batch_scope s JOIN ingest_batch b USING (batch_id) "
            "JOIN __new_scope n ON s.provider = n.provider AND s.billing_account_id = n.account "
            "AND s.billing_period = n.period WHERE b.status = 'loaded' AND s.replaced_by IS NULL ORDER BY 1"
        ).fetchall()]
        if not touched:
            return []
        marks = ", ".join("?" for _ in touched)
        stored = stored_columns("cost_line")
        # kept, not lost: rolling this batch back puts these rows back (rollback_batch)
        con.execute(
            f"INSERT INTO cost_line_superseded ({', '.join(stored)}, superseded_by) "
            f"SELECT {', '.join('c.' + c for c in stored)}, ? FROM cost_line c "
            f"JOIN __new_scope n "
            f"ON c.provider = n.provider AND coalesce(c.billing_account_id, '') = n.account "
            f"AND c.billing_period = n.period WHERE c.batch_id IN ({marks})", [batch_id, *touched])
        con.execute(
            f"DELETE FROM cost_line c USING __new_scope n WHERE c.batch_id IN ({marks}) "
            f"AND c.provider = n.provider AND coalesce(c.billing_account_id, '') = n.account "
            f"AND c.billing_period = n.period", touched)
        con.execute(
            f"UPDATE ingest_batch_scope s SET replaced_by = ? FROM __new_scope n WHERE s.batch_id IN ({marks}) "
            f"AND s.provider = n.provider AND s.billing_account_id = n.account AND s.billing_period = n.period",
            [batch_id, *touched])
    else:
        keys = rules_for(table).natural_key
        if not keys:
            return []
        key_list = ", ".join(q(k) for k in keys)
        touched = [r[0] for r in con.sql(
            f"SELECT DISTINCT t.batch_id FROM {q(table)} t JOIN (SELECT DISTINCT {key_list} FROM {alias}.{ACCEPTED}"
            f") n USING ({key_list}) WHERE t.batch_id IS NOT NULL ORDER BY 1"
        ).fetchall()]
        if not touched:
            return []
        con.execute(f"DELETE FROM {q(table)} WHERE ({key_list}) IN (SELECT ({key_list}) FROM {alias}.{ACCEPTED})")
    for b in touched:
        left = con.sql(f"SELECT count(*) FROM {q(table)} WHERE batch_id = ?", params=[b]).fetchall()[0][0]
        if left == 0:
            con.execute("UPDATE ingest_batch SET status = 'replaced', replaced_by = ? WHERE batch_id = ?",
                        [batch_id, b])
        else:
            con.execute("UPDATE ingest_batch SET note = concat_ws('; ', note, ?) WHERE batch_id = ?",
                        [f"partly replaced by {batch_id}", b])
    return touched


def list_batches(con: duckdb.DuckDBPyConnection, target_table: str | None = None, limit: int = 500) -> pl.DataFrame:
    where, params = ("WHERE target_table = ?", [target_table]) if target_table else ("", [])
    return frame(con.sql(
        "SELECT batch_id, source_kind, file_name, target_table, billing_period, status, loaded_by, loaded_at, "
        f"rows_read, rows_loaded, rows_quarantined, replaced_by, note, content_hash FROM ingest_batch {where} "
        f"ORDER BY loaded_at DESC, batch_id LIMIT {int(limit)}", params=params))


def quarantine_rows(con: duckdb.DuckDBPyConnection, batch_id: str) -> pl.DataFrame:
    return frame(con.sql("SELECT row_number, column_name, reason, raw FROM quarantine_row WHERE batch_id = ? "
                   "ORDER BY row_number NULLS LAST", params=[batch_id]))


def rollback_batch(con: duckdb.DuckDBPyConnection, batch_id: str, user: str, reason: str = "") -> str:
    """Delete a loaded batch's rows and mark it 'rolled_back' (audited). Billing rows the batch replaced come back
    (from `cost_line_superseded`) for every month no other loaded batch covers now; their batches are 'loaded'
    again. Rows of other tables it replaced by natural key are not restored: load the earlier file again."""
    rows = con.sql("SELECT target_table, status FROM ingest_batch WHERE batch_id = ?", params=[batch_id]).fetchall()
    if not rows:
        raise NotFound(f"no batch '{batch_id}'")
    table, status = rows[0]
    if status != "loaded":
        raise InputError(f"batch '{batch_id}' is {status}; only a loaded batch can be rolled back")
    with store.transaction(con):
        n = con.sql(f"SELECT count(*) FROM {q(table)} WHERE batch_id = ?", params=[batch_id]).fetchall()[0][0]
        con.execute(f"DELETE FROM {q(table)} WHERE batch_id = ?", [batch_id])
        con.execute("UPDATE ingest_batch SET status = 'rolled_back', note = concat_ws('; ', note, ?) "
                    "WHERE batch_id = ?", [f"rolled back by {user}" + (f": {reason}" if reason else ""), batch_id])
        restored: dict[str, int] = {}
        if table == "cost_line":
            # its own rows that a later batch superseded are gone with it; what it superseded comes back
            con.execute("DELETE FROM cost_line_superseded WHERE batch_id = ?", [batch_id])
            restored = _restore_superseded(con, batch_id)
            rollup.refresh(con, [batch_id, *restored])
        audit.record(con, user, "ingest_rollback", "ingest_batch", batch_id,
                     {"table": table, "rows_deleted": int(n), "reason": reason, "restored": restored})
    msg = f"batch {batch_id}: {n} rows removed from {table}; status rolled_back"
    if restored:
        msg += "; restored " + ", ".join(f"{r:,} rows of batch {b}" for b, r in sorted(restored.items()))
    return msg


def _restore_superseded(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, int]:
    """Inside rollback_batch's transaction: put back the billing rows `batch_id` superseded — of batches still
    loaded or replaced — except for months another loaded batch covers now (a later re-delivery that replaced part
    of this batch keeps those months). Returns rows restored per earlier batch."""
    live = "x.batch_id IN (SELECT batch_id FROM ingest_batch WHERE status IN ('loaded', 'replaced'))"
    uncovered = ("NOT EXISTS (SELECT 1 FROM ingest_batch_scope a JOIN ingest_batch b USING (batch_id) "
                 "WHERE b.status = 'loaded' AND a.replaced_by IS NULL AND a.provider = x.provider "
                 "AND a.billing_account_id = coalesce(x.billing_account_id, '') "
                 "AND a.billing_period = x.billing_period)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE __restore AS SELECT DISTINCT provider, "
                f"coalesce(billing_account_id, '') AS account, billing_period AS period "
                f"FROM cost_line_superseded x WHERE superseded_by = ? AND {live} AND {uncovered}", [batch_id])
    rows = (f"x.superseded_by = ? AND {live} AND (x.provider, coalesce(x.billing_account_id, ''), "
            f"x.billing_period) IN (SELECT (provider, account, period) FROM __restore)")
    counts = {str(b): int(c) for b, c in con.sql(
        f"SELECT batch_id, count(*) FROM cost_line_superseded x WHERE {rows} GROUP BY 1 ORDER BY 1",
        params=[batch_id]).fetchall()}
    if not counts:
        return {}
    stored = ", ".join(stored_columns("cost_line"))
    con.execute(f"INSERT INTO cost_line ({stored}) SELECT {stored} FROM cost_line_superseded x WHERE {rows}",
                [batch_id])
    con.execute(f"DELETE FROM cost_line_superseded x WHERE {rows}", [batch_id])
    con.execute("UPDATE ingest_batch_scope s SET replaced_by = NULL FROM __restore r WHERE s.replaced_by = ? "
                "AND s.provider = r.provider AND s.billing_account_id = r.account AND s.billing_period = r.period",
                [batch_id])
    for b in counts:
        con.execute("UPDATE ingest_batch SET status = 'loaded', replaced_by = NULL, note = concat_ws('; ', note, ?) "
                    "WHERE batch_id = ?", [f"rows restored by the rollback of {batch_id}", b])
    return counts


MAX_NAME_BYTES = 200   # file systems allow 255 bytes a name; the staging copies add suffixes to it


def safe_file_name(file_name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """An upload's own base name, fit to be a file name here: no path, no NUL or control characters, at most
    `max_bytes` of UTF-8 (cut in the middle, keeping the extensions, marked with …). Never a path the browser chose."""
    base = Path(file_name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".") or "upload"
    if len(base.encode()) <= max_bytes:
        return base
    stem, dot, ext = base.partition(".")
    ext = (dot + ext) if dot and len((dot + ext).encode()) <= 40 else ""
    stem = stem if ext else base
    room = max_bytes - len(ext.encode()) - len("…".encode())
    cut = stem.encode()[:room].decode("utf-8", errors="ignore")
    return f"{cut}…{ext}"


def ingest_bytes(con: duckdb.DuckDBPyConnection, data: bytes, file_name: str, **kwargs: Any) -> IngestResult:
    """An upload: written to a private temp folder under its own base name (`safe_file_name`), then the same
    `ingest_file`. Messages and the batch carry that name."""
    safe = safe_file_name(file_name)
    d = make_workdir("apportion-upload-")
    try:
        path = d / safe
        path.write_bytes(data)
        return ingest_file(con, path, file_name=safe, **kwargs)
    finally:
        shutil.rmtree(d, ignore_errors=True)
