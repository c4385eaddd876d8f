"""What the forecast reads from the store: daily effective cost per cost centre, split into known commitments and
the rest, and the budgets. Scoped in SQL (engine.access.scope), attributed by engine.insights.attribution.

Known commitments are the lines a bill states before the days they cover: recurring fees (`charge_frequency =
'Recurring'`), the unused part of a reservation or savings plan (`commitment_discount_status = 'Unused'`) and
commitment purchases (`charge_category = 'Purchase'`, amortised to 0 in effective cost). Used commitment is part of
the usage lines at its amortised rate, so it runs with the run-rate. A line spanning several days is spread evenly
over them, as the anomaly scan does.

Each read goes to the store's rollups while they are current — `day_rollup` (the same spread, summed per owner and
day) for the daily series and the default day, `line_rollup` for the closed actuals — and to the lines otherwise;
both give the same frame to the last digit (tests/unit/insights/test_forecast_rollup.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import polars as pl

from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.errors import InputError
from engine.insights.attribution import LINE_OWNER, LINE_OWNER_JOINS, UNATTRIBUTED
from engine.store import day_rollup, rollup
from engine.store.day_rollup import KNOWN
from engine.store.sql import lit, query

_DAILY = f"""
WITH lines AS (
    SELECT l.billing_period AS bp, l.charge_period_start AS s, l.charge_period_end AS e, l.effective_cost AS cost,
           {KNOWN} AS known, {LINE_OWNER}
    FROM cost_line l
    {LINE_OWNER_JOINS}
    WHERE l.billing_period <= ? AND l.charge_period_start < ?
),
scoped AS (SELECT * FROM lines WHERE {{scope}}),
spread AS (
    SELECT cost_center_id, bp, known, CAST(s AS DATE) AS start_day, CAST(s AS DATE) AS day, cost AS amount
    FROM scoped WHERE e <= date_trunc('day', s) + INTERVAL 1 DAY
    UNION ALL
    SELECT cost_center_id, bp, known, CAST(s AS DATE) AS start_day, CAST(unnest(days) AS DATE) AS day,
           CAST(cost / len(days) AS DECIMAL(38, 10)) AS amount
    FROM (SELECT *, generate_series(CAST(CAST(s AS DATE) AS TIMESTAMP),
                                    CAST(CAST(e - INTERVAL 1 MICROSECOND AS DATE) AS TIMESTAMP),
                                    INTERVAL 1 DAY) AS days
          FROM scoped WHERE e > date_trunc('day', s) + INTERVAL 1 DAY)
)
SELECT coalesce(cost_center_id, {lit(UNATTRIBUTED)}) AS cost_center_id, bp, day, known,
       CASE WHEN known THEN start_day END AS start_day, CAST(sum(amount) AS DECIMAL(38, 10)) AS amount
FROM spread GROUP BY ALL
"""

# the same frame from the day rollup: its rows are the spread's parts already summed per owner and day
_DAILY_ROLLED = f"""
WITH lines AS (
    SELECT l.billing_period AS bp, l.known, l.start_day, l.day, l.amount, {LINE_OWNER}
    FROM day_rollup l
    {LINE_OWNER_JOINS}
    WHERE l.billing_period <= ? AND l.start_day < ?
)
SELECT coalesce(cost_center_id, {lit(UNATTRIBUTED)}) AS cost_center_id, bp, day, known,
       CASE WHEN known THEN start_day END AS start_day, CAST(sum(amount) AS DECIMAL(38, 10)) AS amount
FROM lines WHERE {{scope}} GROUP BY ALL
"""

_ACTUALS = f"""
WITH lines AS (
    SELECT l.billing_period AS bp, l.effective_cost AS cost, {LINE_OWNER}
    FROM {{lines}} l
    {LINE_OWNER_JOINS}
    WHERE l.billing_period IN (SELECT unnest(?::VARCHAR[]))
)
SELECT coalesce(cost_center_id, {lit(UNATTRIBUTED)}) AS cost_center_id, bp,
       CAST(sum(cost) AS DECIMAL(38, 10)) AS amount
FROM lines WHERE {{scope}} GROUP BY ALL
"""

_ORG = f"""
SELECT c.unit_id AS cost_center_id, c.name AS cost_center, coalesce(b.name, {lit(UNATTRIBUTED)}) AS business_unit
FROM org_unit c LEFT JOIN org_unit b ON b.unit_id = c.parent_id
WHERE c.kind = 'cost_center' AND {{scope}}
"""

_BUDGET = """
SELECT cost_center_id, period, amount FROM budget WHERE period IN (SELECT unnest(?::VARCHAR[])) AND {scope}
"""

ORG_SCHEMA: dict[str, pl.DataType] = {"cost_center_id": pl.Utf8(), "cost_center": pl.Utf8(),
                                      "business_unit": pl.Utf8()}


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a YYYY-MM period."""
    if len(period) != 7 or period[4] != "-" or not (period[:4] + period[5:]).isdigit() \
            or not 1 <= int(period[5:]) <= 12:
        raise InputError(f"forecast: {period!r} is not a period (YYYY-MM)")
    first = date(int(period[:4]), int(period[5:]), 1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def shift(period: str, months: int) -> str:
    first, _ = month_bounds(period)
    k = first.year * 12 + first.month - 1 + months
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


@dataclass(frozen=True)
class Daily:
    """Daily effective cost per (cost centre, billing period, day, known), exact (DECIMAL(38,10)), as the store held
    it up to `through` (lines whose charge starts later are not read)."""

    frame: pl.DataFrame      # cost_center_id, bp, day, known, start_day (known lines only), amount
    through: date
    first_day: date | None   # the earliest charge day the user's scope holds


def _days_rolled(con: duckdb.DuckDBPyConnection, rolled: bool | None) -> bool:
    return day_rollup.current(con) if rolled is None else rolled


def daily(con: duckdb.DuckDBPyConnection, user: User | None, last_period: str, through: date, *,
          rolled: bool | None = None) -> Daily:
    """`rolled`: read the day rollup (True) or the lines (False); None: the rollup while it is current."""
    pred, params = cost_center_filter(user, "cost_center_id")
    sql = _DAILY_ROLLED if _days_rolled(con, rolled) else _DAILY
    df = query(con, sql.format(scope=pred), [last_period, through + timedelta(days=1), *params])
    first = df["day"].min() if df.height else None
    return Daily(df, through, first if isinstance(first, date) else None)


def actuals(con: duckdb.DuckDBPyConnection, user: User | None, periods: list[str], *,
            rolled: bool | None = None) -> pl.DataFrame:
    """Closed totals per (cost_center_id, bp): the exact sum of effective cost of the billing period."""
    pred, params = cost_center_filter(user, "cost_center_id")
    lines = (rollup.lines_source(con) if rolled is None else rollup.AS_LINES if rolled else "cost_line")
    return query(con, _ACTUALS.format(scope=pred, lines=lines), [periods, *params])


def org(con: duckdb.DuckDBPyConnection, user: User | None) -> pl.DataFrame:
    """Cost centres the user may see, with their business unit; plus the Unattributed bucket for full scopes."""
    pred, params = cost_center_filter(user, "c.unit_id")
    df = query(con, _ORG.format(scope=pred), params)
    if user is not None and user.cost_centers is None:
        df = pl.concat([df.cast(ORG_SCHEMA), pl.DataFrame(  # type: ignore[arg-type]
            {"cost_center_id": [UNATTRIBUTED], "cost_center": [UNATTRIBUTED], "business_unit": [UNATTRIBUTED]},
            schema=ORG_SCHEMA)])
    return df.cast(ORG_SCHEMA)  # type: ignore[arg-type]


def budgets(con: duckdb.DuckDBPyConnection, user: User | None, periods: list[str]) -> pl.DataFrame:
    """Budget rows (cost_center_id, period, amount DECIMAL(18,2)) of `periods` in the user's scope."""
    pred, params = cost_center_filter(user, "cost_center_id")
    return query(con, _BUDGET.format(scope=pred), [periods, *params])


def last_day_with_data(con: duckdb.DuckDBPyConnection, user: User | None, period: str, *,
                       rolled: bool | None = None) -> date | None:
    """The last charge day the store holds for `period` in the user's scope (a default as-of day)."""
    pred, params = cost_center_filter(user, "cost_center_id")
    table, last = (("day_rollup", "l.last_day") if _days_rolled(con, rolled)
                   else ("cost_line", "CAST(l.charge_period_end - INTERVAL 1 MICROSECOND AS DATE)"))
    row = con.execute(
        f"SELECT max(last) FROM (SELECT {last} AS last, {LINE_OWNER} FROM {table} l {LINE_OWNER_JOINS}"
        f" WHERE l.billing_period = ?) l WHERE {pred}", [period, *params]).fetchall()
    value = row[0][0] if row else None
    return value if isinstance(value, date) else None
