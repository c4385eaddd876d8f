"""Month-close runs: rule set version + period + basis → pools (SQL) → cascade → cents → one transaction.

The run key is hash(input batches, rule body, parameters), so running the same inputs again replaces the run
instead of adding to it. The conservation check runs inside the writing transaction; if it fails, nothing of
the run is kept, a `failed` run row and an audit event say so, and the caller gets the exception.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from engine.allocation import adjustments, conservation, currency, overrides, periods, run_org
from engine.allocation.backends.base import PoolSource
from engine.allocation.cascade import UNALLOCATED_KIND, CascadeError, run_cascade
from engine.allocation.pools import Basis, Org, PoolData, load_pools
from engine.allocation.posting import AMOUNT_QUANTUM, Posted, post
from engine.errors import AllocationError, InputError
from engine.insights.anomalies.jobs import detect_after_close
from engine.rules import versions
from engine.rules.model import RuleSet, load
from engine.scope import transform as scope_transform
from engine.store import audit, transaction


@dataclass(frozen=True)
class RunSummary:
    run_key: str
    period: str
    rule_set: str
    rule_version: int
    basis: str
    status: str
    total_in: Decimal
    total_out: Decimal
    unallocated: Decimal
    result_rows: int
    input_lines: int
    replaced: bool
    seconds: float


def resolve_rule_set(con: duckdb.DuckDBPyConnection, rule_set: str | Path | RuleSet, period: str,
                     version: int | None = None) -> tuple[RuleSet, int]:
    """A RuleSet object or a YAML/JSON file runs as version 0 (unversioned); a name runs the stored version, or
    the approved one in force for the period when no version is given."""
    if isinstance(rule_set, RuleSet):
        return rule_set, 0
    p = Path(rule_set)
    if p.suffix.lower() in (".yaml", ".yml", ".json") and p.is_file():
        return load(p), 0
    name = str(rule_set)
    rv = versions.get(con, name, version) if version is not None else versions.as_of(con, name, period)
    return rv.rule_set, rv.version


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def run_key(data: PoolData, rs: RuleSet, version: int, params: dict[str, Any] | None,
            scope: str | None = None) -> str:
    """Same key ⇔ same inputs: batches, pool totals, the resolved owners of direct lines, driver quantities, the org
    tree, exceptions, the rule version and body, the parameters (and the fiscal year for asset steps)."""
    payload = {
        "period": data.period, "basis": data.basis, "rule_set": rs.name, "version": version,
        "body": rs.body_hash(), "params": params or {}, "cost_batches": list(data.cost_batches),
        "driver_batches": list(data.driver_batches),
        "pool_totals": {p: str(v) for p, v in sorted(data.pool_totals.items())},  # assets/licences have no batch
        "exceptions": [[e.exception_id, e.match_field, e.match_value, e.treatment.model_dump(mode="json")]
                       for e in data.exceptions],
        # the inputs as the cascade sees them, so an edit without a new batch still makes a new run: who owns each
        # direct line (account owners, assets, tags), every driver quantity, the org tree and applications' cost centres
        "direct": _digest({p: sorted([str(a), str(b), str(v)] for a, b, v in rows) for p, rows in data.direct.items()}),
        "drivers": _digest({f"{d}|{k}": {t: str(q) for t, q in ts.items()} for (d, k), ts in data.drivers.items()}),
        "org": _digest({"kind": data.org.kind, "parent": data.org.parent, "app_cc": data.org.app_cc}),
    }
    if any(s.source.kind == "assets" for s in rs.steps):  # depreciation depends on it; other rule sets keep their keys
        payload["fiscal_year_start_month"] = data.fiscal_year_start_month
    if scope is not None:  # a scope version that changed the rule set (engine/scope); none keeps the old keys
        payload["scope"] = scope
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _frame(run_key_: str, period: str, posted: list[Posted], org: Org, pool_totals: dict[str, Decimal]) -> pl.DataFrame:
    def cc(kind: str, tid: str) -> str | None:
        return None if kind == UNALLOCATED_KIND else org.cost_center_of(kind, tid)

    def share(p: Posted) -> float | None:
        total = pool_totals.get(p.key.source_pool, Decimal(0))
        return float(p.amount / total) if total else None

    # a polars frame, not a pyarrow table: building an arrow array from Python lists imports pandas (0.3-0.6 s of a
    # month close run from the CLI, measured in a fresh process); DuckDB reads the frame without it
    return pl.DataFrame({
        "run_key": [run_key_] * len(posted),
        "period": [period] * len(posted),
        "step": [p.key.step for p in posted],
        "step_name": [p.key.step_name for p in posted],
        "source_pool": [p.key.source_pool for p in posted],
        "method": [p.key.method for p in posted],
        "driver": [p.key.driver or None for p in posted],
        "target_kind": [p.key.target_kind for p in posted],
        "target_id": [p.key.target_id for p in posted],
        "cost_center_id": [cc(p.key.target_kind, p.key.target_id) for p in posted],
        "app_id": [p.key.target_id if p.key.target_kind == "application" else None for p in posted],
        "share": [share(p) for p in posted],
        "amount": [str(p.amount.quantize(AMOUNT_QUANTUM)) for p in posted],
        "posted": [str(Decimal(p.cents).scaleb(-2)) for p in posted],
    }, schema={**dict.fromkeys(_RESULT_TEXT, pl.String), "step": pl.Int32, "share": pl.Float64})


# every column of the result frame but step and share is text (amounts as exact decimal strings, cast on insert)
_RESULT_TEXT = ("run_key", "period", "step_name", "source_pool", "method", "driver", "target_kind", "target_id",
                "cost_center_id", "app_id", "amount", "posted")

_INSERT = (
    "INSERT INTO allocation_result (run_key, period, step, step_name, source_pool, method, driver, target_kind,"
    " target_id, cost_center_id, app_id, service_name, share, amount, posted_amount)"
    " SELECT run_key, period, step, step_name, source_pool, method, driver, target_kind, target_id, cost_center_id,"
    " app_id, NULL, share, CAST(amount AS DECIMAL(38, 10)), CAST(posted AS DECIMAL(18, 2))"
    " FROM _apportion_rows"
)


def _record_failure(con: duckdb.DuckDBPyConnection, key: str, period: str, rs: RuleSet, version: int, basis: str,
                    params: dict[str, Any] | None, total_in: Decimal, actor: str, error: str) -> None:
    with transaction(con):
        posted = con.sql("SELECT count(*) FROM allocation_run WHERE run_key = ? AND status = 'posted'",
                         params=[key]).fetchall()[0][0]
        if not posted:
            con.execute("DELETE FROM allocation_run WHERE run_key = ?", [key])
            con.execute(
                "INSERT INTO allocation_run (run_key, period, rule_set, rule_version, basis, params, total_in,"
                " total_out, status, started_by, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'failed', ?,"
                " current_timestamp)",
                [key, period, rs.name, version, basis, json.dumps(params or {}), total_in, actor],
            )
        audit.record(con, actor, "allocation.fail", "allocation_run", key,
                     {"period": period, "rule_set": rs.name, "version": version, "error": error[:2000]})


def run_allocation(con: duckdb.DuckDBPyConnection, period: str, rule_set: str | Path | RuleSet,
                   version: int | None = None, basis: Basis = "effective", params: dict[str, Any] | None = None,
                   actor: str = "cli", fiscal_year_start_month: int | None = None,
                   source: PoolSource | None = None) -> RunSummary:
    """Allocate one period and post it. Raises AllocationError (ConservationError is one) when nothing posted.

    Assets' depreciation uses `fiscal_year_start_month`, by default the setting of that name (see load_pools).
    `source` is where the cost-line aggregation runs (allocation/backends/; the store itself by default)."""
    if not versions.PERIOD.match(period):
        raise InputError(f"period must be YYYY-MM, not {period!r}")
    if basis not in ("effective", "billed"):
        raise InputError(f"basis must be effective or billed, not {basis!r}")
    periods.guard(con, period)     # a submitted or locked month refuses before any work
    currency.guard(con, period)    # every line in the reporting currency (engine/fx), or nothing runs
    started = time.perf_counter()
    base_rs, ver = resolve_rule_set(con, rule_set, period, version)
    rs = overrides.from_params(base_rs, params)
    data = load_pools(con, rs, period, basis, fiscal_year_start_month=fiscal_year_start_month, source=source)
    rs, scope_digest = scope_transform.scoped(con, rs, data)   # engine/scope: basis per pool, materiality → overhead
    key = run_key(data, base_rs, ver, params, scope_digest)
    adjust = adjustments.for_period(con, period)   # accepted disputes this month's run posts (their own rows)
    key = adjustments.keyed(key, adjust)
    key = currency.keyed(key, currency.rates_used(con, period))   # the FX rates the lines were converted with
    total_in = sum(data.pool_totals.values(), Decimal(0))
    try:
        posted = post(run_cascade(rs, data), data.pool_totals) + adjustments.rows(adjust)
        table = _frame(key, period, posted, data.org, data.pool_totals)
        with transaction(con):
            replaced = bool(con.sql("SELECT count(*) FROM allocation_run WHERE run_key = ?",
                                    params=[key]).fetchall()[0][0])
            con.execute("DELETE FROM allocation_result WHERE run_key = ?", [key])
            con.execute("DELETE FROM allocation_run WHERE run_key = ?", [key])
            total_out = sum((Decimal(p.cents) for p in posted), Decimal(0)) / 100
            unallocated = sum((Decimal(p.cents) for p in posted if p.key.target_kind == UNALLOCATED_KIND),
                              Decimal(0)) / 100
            con.execute(
                "INSERT INTO allocation_run (run_key, period, rule_set, rule_version, basis, params, total_in,"
                " total_out, status, started_by, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'posted', ?,"
                " current_timestamp)",
                [key, period, rs.name, ver, basis, json.dumps(params or {}, sort_keys=True), total_in, total_out,
                 actor],
            )
            con.register("_apportion_rows", table)
            try:
                con.execute(_INSERT)
            finally:
                con.unregister("_apportion_rows")
            conservation.check(con, key, data.pool_totals)
            adjustments.mark_posted(con, key, adjust)
            con.execute("DELETE FROM allocation_run_timing WHERE run_key = ?", [key])
            con.execute("INSERT INTO allocation_run_timing VALUES (?, ?, ?, current_timestamp)",
                        [key, period, time.perf_counter() - started])
            run_org.save(con, key, run_org.snapshot(con, data.org, period))
            audit.record(con, actor, "allocation.post", "allocation_run", key, {
                "period": period, "rule_set": rs.name, "version": ver, "basis": basis, "params": params or {},
                "total_in": str(total_in), "total_out": str(total_out), "rows": len(posted), "replaced": replaced,
            })
    except (CascadeError, conservation.ConservationError, duckdb.Error, ValueError, ArithmeticError) as exc:
        _record_failure(con, key, period, rs, ver, basis, params, total_in, actor, str(exc))
        if isinstance(exc, conservation.ConservationError):
            raise
        raise AllocationError(f"allocation of {period} with {rs.name} v{ver} failed: {exc}") from exc
    detect_after_close(con, period, actor)   # the month is complete now; never fails the posted run
    return RunSummary(key, period, rs.name, ver, basis, "posted", total_in, total_out, unallocated, len(posted),
                      data.input_lines, replaced, time.perf_counter() - started)


def latest_run(con: duckdb.DuckDBPyConnection, period: str, rule_set: str | None = None) -> str | None:
    """The most recent posted run key for a period (optionally one rule set): what dashboards show."""
    sql = "SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'"
    params: list[Any] = [period]
    if rule_set:
        sql += " AND rule_set = ?"
        params.append(rule_set)
    rows = con.sql(sql + " ORDER BY finished_at DESC, run_key LIMIT 1", params=params).fetchall()
    return rows[0][0] if rows else None
