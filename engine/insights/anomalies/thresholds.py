"""Detector thresholds per scope, versioned and audited: a noisy batch account can need a higher dollar floor, a
critical application a lower k, without changing what every other scope is judged by.

A threshold applies to (scope_kind, scope_id); the most specific wins: the exact scope, then every scope of that kind
(`scope_id = '*'`), then the detector's defaults. Each change writes a new version holding the whole set in force
(so an auditor can say which thresholds a past detection used) and one audit event with its reason.

Detection runs with the loosest parameters any scope has (`loosest`), then keeps each flag only if it passes its own
scope's threshold (`apply`), rule by rule:

- seasonal: score > k and excess > floor;  week_over_week: score > fallback_change and excess > floor;
- new_entity: excess ≥ floor;  month_over_month and allocation_change: score > month_change and excess > floor ×
  the days in the month.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, replace

import duckdb
import polars as pl

from engine.access.policy import require
from engine.access.users import User
from engine.errors import InputError
from engine.insights.anomalies.detectors import DEFAULT_PARAMS, DetectorParams
from engine.insights.anomalies.monthly import MONTH_CHANGE
from engine.insights.anomalies.scan import LEVELS
from engine.store import audit, transaction
from engine.store.sql import query

ANY = "*"


@dataclass(frozen=True)
class Threshold:
    k: float = DEFAULT_PARAMS.k
    floor: float = DEFAULT_PARAMS.floor
    fallback_change: float = DEFAULT_PARAMS.fallback_change
    month_change: float = MONTH_CHANGE

    def __post_init__(self) -> None:
        for name in ("k", "fallback_change", "month_change"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise InputError(f"anomaly threshold: {name} must be a positive number, not {v!r}")
        if not (isinstance(self.floor, int | float) and math.isfinite(self.floor) and self.floor >= 0):
            raise InputError(f"anomaly threshold: floor must be zero or a positive amount, not {self.floor!r}")

    @staticmethod
    def of(params: DetectorParams, month_change: float = MONTH_CHANGE) -> Threshold:
        return Threshold(params.k, params.floor, params.fallback_change, month_change)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT coalesce(max(version), 0) FROM anomaly_threshold_version").fetchall()[0][0])


def in_force(con: duckdb.DuckDBPyConnection, version: int | None = None) -> dict[tuple[str, str], Threshold]:
    """The thresholds of `version` (default: the latest), by (scope_kind, scope_id)."""
    v = current_version(con) if version is None else version
    rows = con.execute("SELECT scope_kind, scope_id, k, floor, fallback_change, month_change FROM anomaly_threshold"
                       " WHERE version = ? ORDER BY 1, 2", [v]).fetchall()
    return {(str(kind), str(sid)): Threshold(float(k), float(f), float(fc), float(mc))
            for kind, sid, k, f, fc, mc in rows}


def _save(con: duckdb.DuckDBPyConnection, user: User, rows: dict[tuple[str, str], Threshold], reason: str,
          detail: dict[str, object]) -> int:
    with transaction(con):
        version = current_version(con) + 1
        con.execute("INSERT INTO anomaly_threshold_version (version, set_by, reason) VALUES (?, ?, ?)",
                    [version, user.username, reason.strip()])
        for (kind, sid), t in sorted(rows.items()):
            con.execute("INSERT INTO anomaly_threshold VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [version, kind, sid, t.k, t.floor, t.fallback_change, t.month_change])
        audit.record(con, user.username, "anomaly.thresholds", "anomaly_threshold", str(version),
                     {"reason": reason.strip(), **detail})
    return version


def _check(user: User, scope_kind: str, reason: str) -> None:
    require(user, "tune_detectors", "change anomaly thresholds")
    if scope_kind not in (*LEVELS, ANY):
        raise InputError(f"scope kind must be one of {', '.join(LEVELS)} or '*', not {scope_kind!r}")
    if not reason.strip():
        raise InputError("say why the threshold changes: it goes to the audit trail")


def set_threshold(con: duckdb.DuckDBPyConnection, user: User, scope_kind: str, scope_id: str, threshold: Threshold,
                  reason: str) -> int:
    """A new version with `threshold` for the scope (scope_id '*': every scope of the kind); returns the version."""
    _check(user, scope_kind, reason)
    if not scope_id.strip():
        raise InputError("name the scope (an id, or '*' for every scope of the kind)")
    rows = in_force(con)
    before = rows.get((scope_kind, scope_id))
    rows[(scope_kind, scope_id.strip())] = threshold
    return _save(con, user, rows, reason, {"scope": [scope_kind, scope_id.strip()], "threshold": vars(threshold),
                                          "previous": vars(before) if before else None})


def clear_threshold(con: duckdb.DuckDBPyConnection, user: User, scope_kind: str, scope_id: str, reason: str) -> int:
    _check(user, scope_kind, reason)
    rows = in_force(con)
    if (scope_kind, scope_id) not in rows:
        raise InputError(f"no threshold is set for {scope_kind} {scope_id}")
    before = rows.pop((scope_kind, scope_id))
    return _save(con, user, rows, reason, {"scope": [scope_kind, scope_id], "cleared": vars(before)})


def history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(con, "SELECT v.version, v.set_by, v.reason, v.created_at, count(t.scope_kind) AS thresholds"
                      " FROM anomaly_threshold_version v LEFT JOIN anomaly_threshold t USING (version)"
                      " GROUP BY ALL ORDER BY v.version DESC")


def loosest(con: duckdb.DuckDBPyConnection, base: DetectorParams,
            month_change: float = MONTH_CHANGE) -> tuple[DetectorParams, float]:
    """The parameters to scan with so that no scope's own threshold is missed, and the loosest month change."""
    rows = list(in_force(con).values())
    if not rows:
        return base, month_change
    return (replace(base, k=min([base.k, *(t.k for t in rows)]), floor=min([base.floor, *(t.floor for t in rows)]),
                    fallback_change=min([base.fallback_change, *(t.fallback_change for t in rows)])),
            min([month_change, *(t.month_change for t in rows)]))


def _passes(t: Threshold, rule: str, score: float | None, excess: float, day: object) -> bool:
    if rule == "seasonal":
        return score is not None and score > t.k and excess > t.floor
    if rule == "week_over_week":
        return score is not None and score > t.fallback_change and excess > t.floor
    if rule == "new_entity":
        return excess >= t.floor
    days = calendar.monthrange(day.year, day.month)[1]  # type: ignore[attr-defined]
    return score is not None and score > t.month_change and excess > t.floor * days


def apply(con: duckdb.DuckDBPyConnection, flags: pl.DataFrame, base: DetectorParams,
          month_change: float = MONTH_CHANGE) -> pl.DataFrame:
    """The flags that pass their own scope's threshold (the defaults `base` where none is set)."""
    rows = in_force(con)
    if flags.is_empty() or not rows:
        return flags
    default = Threshold.of(base, month_change)
    keep = [_passes(rows.get((kind, sid)) or rows.get((kind, ANY)) or rows.get((ANY, ANY)) or default,
                    rule, score, float(excess), day)
            for kind, sid, rule, score, excess, day in flags.select(
                "scope_kind", "scope_id", "rule", "score", "excess", "date").iter_rows()]
    return flags.filter(pl.Series(keep, dtype=pl.Boolean))
