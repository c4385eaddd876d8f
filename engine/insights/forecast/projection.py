"""Month-end and next-quarter projections per cost centre, rolled up per business unit.

    month-end    = actual to date (exact, cents)
                 + known commitments on the remaining days (exact, cents)
                 + run-rate with the weekly profile over the remaining days (an estimate)
    next quarter = run-rate over the three months after the period
                 + the period's known commitments per day, carried forward over those days

Everything is computed from what the store held on the as-of day: lines whose charge starts later, and the days
after it, are not read, so a forecast of a past month is the forecast that would have been made then (the backtest
relies on it). Estimates are floats rounded to cents; actuals stay Decimal.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import numpy as np
import polars as pl

from engine.access.users import User
from engine.allocation.rounding import largest_remainder, to_cents
from engine.errors import InputError
from engine.insights.forecast import model
from engine.insights.forecast.model import FloatArray
from engine.insights.forecast.series import Daily, daily, month_bounds, org, shift

CENT = Decimal("0.01")
MONEY = pl.Decimal(18, 2)
QUARTER_MONTHS = 3
TOTAL = "All business units"   # the roll-up of every business unit in scope
ESTIMATES = ("run_rate_rest", "month_end", "month_end_lo", "month_end_hi", "month_end_hw", "next_quarter",
             "next_quarter_lo", "next_quarter_hi", "next_quarter_hw")
SCHEMA: dict[str, pl.DataType] = {"cost_center_id": pl.Utf8(), "to_date": MONEY, "known_rest": MONEY,
                                  **{c: pl.Float64() for c in ESTIMATES}}


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def summing_cents(values: list[Decimal], ids: list[str]) -> list[Decimal]:
    """Exact amounts to cents that add up to their exact total rounded to the cent (largest remainder, the
    allocation's own rounding), so a business unit's or the organisation's actual is the bill to the cent."""
    total = to_cents(sum(values, Decimal(0)))
    return [Decimal(c).scaleb(-2) for c in largest_remainder(values, total, ids)]


def _sums(df: pl.DataFrame, ids: list[str]) -> list[Decimal]:
    """Exact sum of `amount` per cost centre, in the order of `ids` (0 where none)."""
    got = {r[0]: r[1] for r in df.group_by("cost_center_id").agg(pl.col("amount").sum()).iter_rows()}
    return [Decimal(got.get(i) or 0) for i in ids]


def _matrix(df: pl.DataFrame, ids: list[str], first: date, n_days: int) -> FloatArray:
    """(len(ids), n_days) float matrix of `amount` by cost centre and day offset from `first`."""
    out = np.zeros((len(ids), n_days))
    if df.is_empty():
        return out
    index = {c: k for k, c in enumerate(ids)}
    g = df.group_by("cost_center_id", "day").agg(pl.col("amount").sum().cast(pl.Float64))
    rows = np.array([index[c] for c in g["cost_center_id"].to_list()], dtype=np.int64)
    cols = np.array([(d - first).days for d in g["day"].to_list()], dtype=np.int64)
    keep = (cols >= 0) & (cols < n_days)
    np.add.at(out, (rows[keep], cols[keep]), g["amount"].to_numpy()[keep])
    return out


def _monthly_means(usage: pl.DataFrame, ids: list[str], period: str, first_day: date) -> FloatArray:
    """(len(ids), months) average daily non-commitment cost of the closed months before `period` that the store
    holds whole (their first day on or after `first_day`), oldest first; at most DRIFT_MONTHS + 1."""
    months: list[str] = []
    p = shift(period, -1)
    while len(months) <= model.DRIFT_MONTHS and month_bounds(p)[0] >= first_day:
        months.insert(0, p)
        p = shift(p, -1)
    out = np.zeros((len(ids), len(months)))
    for k, m in enumerate(months):
        lo, hi = month_bounds(m)
        part = usage.filter(pl.col("day").is_between(lo, hi))
        out[:, k] = np.array([float(v) for v in _sums(part, ids)]) / ((hi - lo).days + 1)
    return out


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def project(data: Daily, period: str, as_of: date) -> pl.DataFrame:
    """Per cost centre: to_date and known_rest (exact), the run-rate over the rest of the month, month_end and
    next_quarter with their 80% intervals (lo, hi) and half-widths (hw), from `data` as it stood on `as_of`."""
    first, last = month_bounds(period)
    if not first <= as_of <= last:
        raise InputError(f"forecast: the as-of day {as_of} is not in {period}")
    if as_of > data.through:
        raise InputError(f"forecast: the data were read up to {data.through}, not {as_of}")
    f = data.frame.filter(pl.col("bp") <= period, pl.col("day") <= as_of)
    known_all = data.frame.filter(pl.col("bp") == period, pl.col("known"), pl.col("start_day") <= as_of)
    if data.first_day is None or (f.is_empty() and known_all.is_empty()):
        return pl.DataFrame(schema=SCHEMA)
    history_days = (as_of - data.first_day).days + 1
    if history_days < model.MIN_HISTORY_DAYS:
        raise InputError(f"forecast: the store holds {max(history_days, 0)} day(s) of cost before {as_of}; "
                         f"the run-rate needs at least {model.MIN_HISTORY_DAYS}")
    ids = sorted(set(f["cost_center_id"].to_list()) | set(known_all["cost_center_id"].to_list()))
    to_date = _sums(f.filter(pl.col("bp") == period), ids)
    known_rest = _sums(known_all.filter(pl.col("day") > as_of), ids)
    commit_rate = np.array([float(v) for v in _sums(known_all, ids)]) / ((last - first).days + 1)

    usage = f.filter(~pl.col("known"))
    h = min(7 * model.MAX_WEEKS, history_days)
    history = _matrix(usage, ids, as_of - timedelta(days=h - 1), h)
    fitted = model.fit(history, as_of, _monthly_means(usage, ids, period, data.first_day))

    rest = days_between(as_of + timedelta(days=1), last)
    quarter = days_between(last + timedelta(days=1), month_bounds(shift(period, QUARTER_MONTHS))[1])
    run_rate_rest = fitted.daily(rest).sum(axis=1)
    to_date, known_rest = summing_cents(to_date, ids), summing_cents(known_rest, ids)   # exact cents that add up
    month_end = np.array([float(a + b) for a, b in zip(to_date, known_rest, strict=True)]) + run_rate_rest
    month_hw = fitted.half_width(rest)
    next_q = fitted.daily(quarter).sum(axis=1) + commit_rate * len(quarter)
    quarter_hw = fitted.half_width(quarter)
    values = {"run_rate_rest": run_rate_rest, "month_end": month_end, "month_end_lo": month_end - month_hw,
              "month_end_hi": month_end + month_hw, "month_end_hw": month_hw, "next_quarter": next_q,
              "next_quarter_lo": next_q - quarter_hw, "next_quarter_hi": next_q + quarter_hw,
              "next_quarter_hw": quarter_hw}
    return pl.DataFrame({
        "cost_center_id": ids, "to_date": to_date, "known_rest": known_rest,
        **{k: np.round(v, 2) for k, v in values.items()},
    }, schema=SCHEMA)


def with_names(df: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """Add cost_center and business_unit (a cost centre the org does not know keeps its id, unattributed BU)."""
    out = df.join(names, on="cost_center_id", how="left")
    return out.with_columns(cost_center=pl.coalesce("cost_center", "cost_center_id"),
                            business_unit=pl.coalesce("business_unit", pl.lit("Unattributed")))


def roll_up(df: pl.DataFrame, by: str = "business_unit") -> pl.DataFrame:
    """Sum per `by`: exact sums stay exact; the bands combine as independent errors (variances add), so a
    business unit's half-width is the root of the sum of its cost centres' squared half-widths."""
    out = df.group_by(by).agg(
        pl.col("to_date", "known_rest").sum(),
        pl.col("run_rate_rest", "month_end", "next_quarter").sum(),
        (pl.col("month_end_hw", "next_quarter_hw") ** 2).sum().sqrt())
    return out.with_columns(
        month_end_lo=pl.col("month_end") - pl.col("month_end_hw"),
        month_end_hi=pl.col("month_end") + pl.col("month_end_hw"),
        next_quarter_lo=pl.col("next_quarter") - pl.col("next_quarter_hw"),
        next_quarter_hi=pl.col("next_quarter") + pl.col("next_quarter_hw"),
    ).with_columns(pl.col(*ESTIMATES).round(2)).sort(by)


def forecast(con: duckdb.DuckDBPyConnection, user: User | None, period: str, as_of: date) -> pl.DataFrame:
    """Per cost centre the user may see: names, the exact parts and the estimates of `project`."""
    month_bounds(period)
    return with_names(project(daily(con, user, period, as_of), period, as_of), org(con, user)).sort(
        "business_unit", "cost_center_id")
