"""Run the detectors over the store: daily amortised cost per scope, aggregated in DuckDB, judged in numpy.

One query reads the window plus 8 weeks of history and returns one row per (scope level, scope, day) through
GROUPING SETS; every level then becomes one (scopes × days) matrix for `detect_matrix`. Amounts are effective cost
(amortised). A line whose charge period spans several days (a monthly fee, tax, an unused commitment) is spread
evenly over those days, so a monthly charge is not a spike on the 1st.

Scopes: the cost centre and application each line is attributed to (valid cost-centre tag, else the account
owner — the chain of engine.insights.attribution), the service, the account (sub-account, else billing account) and
the resource. Lines without a resource id have no resource scope.

Scoping: the user's cost centres filter the lines before anything is summed, so an app owner's service series is
their share of that service. No user means no rows (fail closed, engine.access.scope.cost_center_filter).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import numpy as np
import polars as pl

from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.errors import InputError
from engine.insights.anomalies.detectors import (
    DEFAULT_PARAMS,
    FULL_HISTORY,
    SEASON,
    WEEKS,
    DetectorParams,
    IntArray,
    detect_matrix,
    new_entities_matrix,
)
from engine.insights.attribution import LINE_OWNER, LINE_OWNER_JOINS, UNATTRIBUTED
from engine.store.sql import lit, q, query

LEVELS = ("cost_center", "application", "service", "account", "resource")
NEW_ENTITY_LEVELS = frozenset({"service", "account", "resource"})
NONE = "(none)"  # a service or account name missing on the line, as the explorer shows it
MAX_WINDOW_DAYS = 366
CHUNK_ROWS = 5_000  # scopes judged at once: bounds the detector's working memory on resource level

_SCOPE_SQL = {
    "cost_center": f"coalesce(cost_center_id, {lit(UNATTRIBUTED)})",
    "application": f"coalesce(app_id, {lit(UNATTRIBUTED)})",
    "service": f"coalesce(service_name, {lit(NONE)})",
    "account": f"coalesce(account_id, {lit(NONE)})",
    "resource": "resource_id",
}

CENT = Decimal("0.01")
MONEY = pl.Decimal(18, 2)
SCHEMA: dict[str, pl.DataType] = {
    "scope_kind": pl.Utf8(), "scope_id": pl.Utf8(), "date": pl.Date(), "actual": MONEY, "expected": MONEY,
    "excess": MONEY, "score": pl.Float64(), "rule": pl.Utf8(),
}

_DAILY = """
WITH lines AS (
    SELECT l.charge_period_start AS s, l.charge_period_end AS e, l.effective_cost AS cost,
           {owner},
           l.service_name, coalesce(l.sub_account_id, l.billing_account_id) AS account_id, l.resource_id
    FROM cost_line l
    {owner_joins}
    WHERE l.charge_period_start < ? AND l.charge_period_end > ?
),
scoped AS (SELECT * FROM lines WHERE {scope}),
spread AS (
    SELECT * EXCLUDE (s, e, cost), CAST(s AS DATE) AS day, cost AS amount
    FROM scoped WHERE e <= date_trunc('day', s) + INTERVAL 1 DAY
    UNION ALL
    SELECT * EXCLUDE (s, e, cost, days), CAST(unnest(days) AS DATE) AS day,
           CAST(cost / len(days) AS DECIMAL(38, 10)) AS amount
    FROM (SELECT *, generate_series(CAST(CAST(s AS DATE) AS TIMESTAMP),
                                    CAST(CAST(e - INTERVAL 1 MICROSECOND AS DATE) AS TIMESTAMP),
                                    INTERVAL 1 DAY) AS days
          FROM scoped WHERE e > date_trunc('day', s) + INTERVAL 1 DAY)
),
daily AS (
    SELECT {columns}, day, amount FROM spread WHERE day BETWEEN ? AND ?
)
SELECT * FROM (
    SELECT CASE {kind} END AS scope_kind, CASE {scope_id} END AS scope_id, day,
           CAST(round(sum(amount), 2) * 100 AS BIGINT) AS cents
    FROM daily GROUP BY GROUPING SETS ({sets})
) WHERE scope_id IS NOT NULL AND cents <> 0
"""


def _daily_sql(levels: Sequence[str], scope: str) -> str:
    columns = ", ".join(f"{_SCOPE_SQL[lv]} AS {q(lv)}" for lv in levels)
    kind = " ".join(f"WHEN grouping({q(lv)}) = 0 THEN {lit(lv)}" for lv in levels)
    scope_id = " ".join(f"WHEN grouping({q(lv)}) = 0 THEN {q(lv)}" for lv in levels)
    sets = ", ".join(f"({q(lv)}, day)" for lv in levels)
    return _DAILY.format(scope=scope, columns=columns, kind=kind, scope_id=scope_id, sets=sets, owner=LINE_OWNER,
                         owner_joins=LINE_OWNER_JOINS)


def daily_costs(con: duckdb.DuckDBPyConnection, user: User | None, first: date, last: date,
                levels: Sequence[str] = LEVELS) -> pl.DataFrame:
    """Effective cost per (scope_kind, scope_id, day) from `first` to `last` inclusive, in cents (`cents`, BIGINT),
    days without spend omitted; scoped to what `user` may see."""
    pred, sparams = cost_center_filter(user, "cost_center_id")
    return query(con, _daily_sql(levels, pred), [
        last + timedelta(days=1), first, *sparams, first, last,
    ])


def _cents_to_money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def _seasonal_expected(cents: IntArray, col: int) -> Decimal:
    """Median of the same weekday over the last 4 weeks, exact in cents (half a cent rounds to even)."""
    lags = sorted(int(cents[col - SEASON * w]) for w in range(1, WEEKS + 1))
    return (Decimal(lags[1] + lags[2]) / 200).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _judge(kind: str, ids: list[str], cents: IntArray, history_start: date, since: int, new_since: int,
           params: DetectorParams) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    x = cents.astype(np.float64) / 100
    found = detect_matrix(x, since, params)
    for r, c, score, rule in zip(found.row, found.col, found.score, found.rule, strict=True):
        row = cents[int(r)]
        actual = _cents_to_money(int(row[c]))
        expected = _seasonal_expected(row, int(c)) if rule == "seasonal" else _cents_to_money(int(row[c - SEASON]))
        out.append({"scope_kind": kind, "scope_id": ids[int(r)], "date": history_start + timedelta(days=int(c)),
                    "actual": actual, "expected": expected, "excess": actual - expected, "score": float(score),
                    "rule": rule})
    if kind in NEW_ENTITY_LEVELS:
        rows, firsts, _ = new_entities_matrix(x, new_since, params.floor)
        for r, c in zip(rows, firsts, strict=True):
            total = _cents_to_money(int(cents[int(r), int(c):].sum()))
            out.append({"scope_kind": kind, "scope_id": ids[int(r)], "date": history_start + timedelta(days=int(c)),
                        "actual": total, "expected": Decimal("0.00"), "excess": total, "score": None,
                        "rule": "new_entity"})
    return out


def scan(con: duckdb.DuckDBPyConnection, user: User | None, start: date, end: date,
         levels: Sequence[str] = LEVELS, params: DetectorParams = DEFAULT_PARAMS) -> pl.DataFrame:
    """Flags for the days `start`..`end` (inclusive) at each scope level: scope_kind, scope_id, date, actual,
    expected, excess (Decimal, to the cent), score (None for a new entity) and rule. Largest excess first per day.

    The 8 weeks before `start` are read as history. A new entity is one with no spend in that history (and, for
    one that starts later in the window, none before its first day)."""
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown or not levels:
        raise InputError(f"anomaly scan: unknown scope level(s) {unknown or '(none)'}; choose from {', '.join(LEVELS)}")
    if end < start:
        raise InputError(f"anomaly scan: the window ends ({end}) before it starts ({start})")
    if (end - start).days + 1 > MAX_WINDOW_DAYS:
        raise InputError(f"anomaly scan: a window may span at most {MAX_WINDOW_DAYS} days")
    chosen = list(dict.fromkeys(levels))
    history_start = start - timedelta(days=FULL_HISTORY)
    n_days = (end - history_start).days + 1
    since = FULL_HISTORY
    daily = daily_costs(con, user, history_start, end, chosen).with_columns(
        col=(pl.col("day") - pl.lit(history_start)).dt.total_days().cast(pl.Int64))
    rows: list[dict[str, object]] = []
    for kind in chosen:
        part = daily.filter(pl.col("scope_kind") == kind)
        if part.is_empty():
            continue
        ids = part["scope_id"].unique().sort().to_list()
        codes = (part["scope_id"].rank("dense") - 1).to_numpy().astype(np.int64)
        cols = part["col"].to_numpy().astype(np.int64)
        cents = part["cents"].to_numpy().astype(np.int64)
        # new only after the level's own data starts: the first load is not a wave of new entities
        new_since = max(since, int(cols.min()) + 1)
        for lo in range(0, len(ids), CHUNK_ROWS):
            hi = min(lo + CHUNK_ROWS, len(ids))
            sel = (codes >= lo) & (codes < hi)
            matrix = np.zeros((hi - lo, n_days), dtype=np.int64)
            matrix[codes[sel] - lo, cols[sel]] = cents[sel]
            rows += _judge(kind, ids[lo:hi], matrix, history_start, since, new_since, params)
    frame = pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)
    return frame.sort(["date", "excess", "scope_kind", "scope_id"], descending=[False, True, False, False])
