"""Month-over-month rule (`rule = "month_over_month"`): a closed month whose total is well above the last three.

The daily detector (engine.insights.anomalies.scan) judges days; some changes only show at the month's grain — a
workload that runs at three times its usual size for a whole month on bills whose lines land on a few scattered days
each (the demo's lines do). A month is judged when it is complete, i.e. after its close
(engine.insights.anomalies.jobs.detect_after_close).

For a scope (cost centre, application, service, account, summed as the daily scan sums them) and month m:

- history: the scope has spend in month m-3 or earlier, and the level's data starts no later than m-3;
- expected e = median of the totals of m-1, m-2, m-3 (a month without lines counts as zero);
- relative change r = (x - e) / max(|e|, guard), guard = max(floor, 1) x days in m;
- flag when r > MONTH_CHANGE (+30 %) AND x - e > floor x days in m (the daily floor over the month).

Score = r (0.45 = +45 %). Amounts are exact to the cent (the month totals are sums of the scan's daily cents).
There is no scale estimate: three months of history are too few for one, so the threshold is a fixed relative change
like the daily rule's week-over-week fallback.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl

from engine.access.users import User
from engine.errors import InputError
from engine.insights.anomalies.detectors import DEFAULT_PARAMS, DetectorParams
from engine.insights.anomalies.scan import LEVELS, SCHEMA, daily_costs

RULE = "month_over_month"
MONTH_LEVELS: tuple[str, ...] = ("cost_center", "application", "service", "account")
MONTH_HISTORY = 3          # months in the baseline
MONTH_CHANGE = 0.3         # rise over the baseline a month must exceed (+30 %)
MAX_MONTHS = 36
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def month_start(period: str) -> date:
    """The first day of a YYYY-MM period; InputError for anything else."""
    if not isinstance(period, str) or not PERIOD.match(period):
        raise InputError(f"period must be YYYY-MM, not {period!r}")
    return date(int(period[:4]), int(period[5:7]), 1)


def add_months(d: date, n: int) -> date:
    """The first day of the month `n` months after (before, for n < 0) the month of `d`."""
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def month_end(d: date) -> date:
    """The last day of the month of `d`."""
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def scan_months(con: duckdb.DuckDBPyConnection, user: User | None, first_period: str, last_period: str,
                levels: Sequence[str] = MONTH_LEVELS, params: DetectorParams = DEFAULT_PARAMS,
                change: float = MONTH_CHANGE) -> pl.DataFrame:
    """Month flags for the periods `first_period`..`last_period` (YYYY-MM, inclusive), in the frame shape of
    `scan` (scope_kind, scope_id, date = the month's first day, actual, expected, excess, score, rule). Scoped to
    `user` like every scan; `None` sees nothing."""
    first, last = month_start(first_period), month_start(last_period)
    if last < first:
        raise InputError(f"month scan: {last_period} is before {first_period}")
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months > MAX_MONTHS:
        raise InputError(f"month scan: at most {MAX_MONTHS} months at once, not {months}")
    unknown = [lv for lv in levels if lv not in LEVELS or lv == "resource"]
    if unknown or not levels:
        raise InputError(f"month scan: unknown scope level(s) {unknown or '(none)'}; choose from "
                         f"{', '.join(MONTH_LEVELS)}")
    history_start = add_months(first, -MONTH_HISTORY)
    daily = daily_costs(con, user, history_start, month_end(last), list(dict.fromkeys(levels)))
    if daily.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    totals = (daily.with_columns(month=pl.col("day").dt.truncate("1mo"))
              .group_by("scope_kind", "scope_id", "month").agg(pl.col("cents").sum()))
    level_start = {k: v for k, v in totals.group_by("scope_kind").agg(pl.col("month").min()).iter_rows()}
    series: dict[tuple[str, str], dict[date, int]] = {}
    for kind, scope_id, month, cents in totals.iter_rows():
        series.setdefault((kind, scope_id), {})[month] = int(cents)
    rows: list[dict[str, object]] = []
    guard_per_day = max(float(params.floor), 1.0)
    for (kind, scope_id), by_month in series.items():
        spent = [m for m, c in by_month.items() if c != 0]
        if not spent:
            continue
        history_from = max(min(spent), level_start[kind])
        for i in range(months):
            m = add_months(first, i)
            if add_months(m, -MONTH_HISTORY) < history_from:
                continue
            actual = by_month.get(m, 0)
            lags = sorted(by_month.get(add_months(m, -j), 0) for j in range(1, MONTH_HISTORY + 1))
            expected = lags[1]
            days = month_end(m).day
            excess = actual - expected
            rel = excess / max(abs(expected), guard_per_day * days * 100)
            if rel > change and excess > params.floor * days * 100:
                rows.append({"scope_kind": kind, "scope_id": scope_id, "date": m, "actual": _money(actual),
                             "expected": _money(expected), "excess": _money(excess), "score": float(rel),
                             "rule": RULE})
    frame = pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)
    return frame.sort(["date", "excess", "scope_kind", "scope_id"], descending=[False, True, False, False])
