"""Allocation outliers at month close (`rule = "allocation_change"`): a cost centre whose *allocated* charge — what
the month's posted run charges it, shared services and overheads included — rose well above the month before.

The month-over-month rule (monthly.py) judges direct spend against the median of three months; this one judges the
posted allocation, which also moves when a driver, the org or a rule version changes, against the previous month's
posted run of the same rule set (latest run of each month). For a cost centre and month m:

- both m and m-1 have a posted run of the rule set, and the cost centre is charged in m-1 (a first charge is not a
  change; a new cost centre shows in the month-over-month rule of its spend);
- change = posted(m) − posted(m-1), relative r = change / max(|posted(m-1)|, guard), guard = max(floor, 1) × days;
- flag when r > `threshold` (default ALLOCATION_CHANGE, +30 %) AND change > floor × days in m. Score = r.

Only rises are flagged (like every rule here). Why it moved is computed on demand for the flag
(decompose.for_anomaly): usage, unit rate, driver values, master data, rule version.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl

from engine.errors import InputError
from engine.insights.anomalies.detectors import DEFAULT_PARAMS, DetectorParams
from engine.insights.anomalies.monthly import add_months, month_end, month_start
from engine.insights.anomalies.scan import SCHEMA

RULE = "allocation_change"
ALLOCATION_CHANGE = 0.3      # rise of the allocated charge over the month before a cost centre must exceed


def _latest(con: duckdb.DuckDBPyConnection, period: str, rule_set: str | None) -> tuple[str, str] | None:
    sql = "SELECT run_key, rule_set FROM allocation_run WHERE period = ? AND status = 'posted'"
    params: list[object] = [period]
    if rule_set is not None:
        sql += " AND rule_set = ?"
        params.append(rule_set)
    rows = con.execute(sql + " ORDER BY finished_at DESC, run_key LIMIT 1", params).fetchall()
    return (str(rows[0][0]), str(rows[0][1])) if rows else None


def _by_cost_center(con: duckdb.DuckDBPyConnection, run_key: str) -> dict[str, int]:
    rows = con.execute("SELECT cost_center_id, CAST(sum(posted_amount) * 100 AS BIGINT) FROM allocation_result "
                       "WHERE run_key = ? AND cost_center_id IS NOT NULL GROUP BY 1", [run_key]).fetchall()
    return {str(cc): int(c) for cc, c in rows}


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def scan_allocation(con: duckdb.DuckDBPyConnection, period: str, *, threshold: float = ALLOCATION_CHANGE,
                    params: DetectorParams = DEFAULT_PARAMS) -> pl.DataFrame:
    """Allocation-change flags of `period` in the frame shape of `scan` (scope_kind = cost_center, date = the
    month's first day); empty when either month has no posted run. Reads every cost centre (the jobs' view);
    readers are scoped when the flags are listed."""
    if not (isinstance(threshold, int | float) and threshold > 0):
        raise InputError(f"allocation change: threshold must be a positive number, not {threshold!r}")
    first = month_start(period)
    after = _latest(con, period, None)
    if after is None:
        return pl.DataFrame(schema=SCHEMA)
    before = _latest(con, add_months(first, -1).strftime("%Y-%m"), after[1])
    if before is None:
        return pl.DataFrame(schema=SCHEMA)
    now, then = _by_cost_center(con, after[0]), _by_cost_center(con, before[0])
    days = month_end(first).day
    guard = max(float(params.floor), 1.0) * days * 100
    rows: list[dict[str, object]] = []
    for cc in sorted(now):
        if cc not in then:
            continue
        x, e = now[cc], then[cc]
        excess = x - e
        rel = excess / max(abs(e), guard)
        if rel > threshold and excess > params.floor * days * 100:
            rows.append({"scope_kind": "cost_center", "scope_id": cc, "date": first, "actual": _money(x),
                         "expected": _money(e), "excess": _money(excess), "score": float(rel), "rule": RULE})
    frame = pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)
    return frame.sort(["excess", "scope_id"], descending=[True, False])
