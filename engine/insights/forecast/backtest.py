"""Backtested accuracy: each past month forecast as of given days (the 10th and the 20th by default), exactly as
`projection.project` would have on that day, compared with the month's closed actual.

    APE  = |forecast − actual| / |actual|          MAPE = mean APE × 100 (%)
    bias = mean (forecast − actual) / |actual| × 100 (%; positive: the forecast ran high)
    coverage = share of months whose actual fell inside the 80% interval (%)

A business unit (and the total of all in scope, TOTAL) is judged on its own rolled-up forecast against its own
actual, not as a mean of its cost centres.
Months whose actual is 0 carry no percentage error and are left out. A month is backtested when the store holds at
least `MIN_BACKTEST_DAYS` days before its as-of day. Pure over the store: same store, same answer (cache-friendly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from engine.access.users import User
from engine.errors import InputError
from engine.insights.forecast.projection import TOTAL, project, roll_up, with_names
from engine.insights.forecast.series import actuals, daily, month_bounds, org

DEFAULT_AS_OF_DAYS = (10, 20)
DEFAULT_MONTHS = 12
MIN_BACKTEST_DAYS = 28

ROWS_SCHEMA: dict[str, pl.DataType] = {
    "scope_id": pl.Utf8(), "period": pl.Utf8(), "as_of_day": pl.Int64(), "forecast": pl.Float64(),
    "lo": pl.Float64(), "hi": pl.Float64(), "actual": pl.Float64()}


@dataclass(frozen=True)
class Backtest:
    by_cost_center: pl.DataFrame      # cost_center_id, cost_center, business_unit, months, mape, bias, coverage
    by_business_unit: pl.DataFrame    # business_unit, months, mape, bias, coverage
    rows: pl.DataFrame                # one row per (cost centre, month, as-of day): forecast, lo, hi, actual


def accuracy(rows: pl.DataFrame, by: str) -> pl.DataFrame:
    """MAPE, bias and interval coverage per `by` over the rows with a non-zero actual."""
    return rows.filter(pl.col("actual") != 0).with_columns(
        err=(pl.col("forecast") - pl.col("actual")) / pl.col("actual").abs(),
        inside=(pl.col("lo") <= pl.col("actual")) & (pl.col("actual") <= pl.col("hi")),
    ).group_by(by).agg(
        months=pl.col("period").n_unique(),
        forecasts=pl.len(),
        mape=pl.col("err").abs().mean() * 100,
        bias=pl.col("err").mean() * 100,
        coverage=pl.col("inside").mean() * 100,
    ).sort(by)


def _past_months(con: duckdb.DuckDBPyConnection, period: str, months: int) -> list[str]:
    rows = con.execute("SELECT DISTINCT billing_period FROM cost_line WHERE billing_period < ?"
                       " ORDER BY 1 DESC LIMIT ?", [period, months]).fetchall()
    return sorted(str(r[0]) for r in rows)


def backtest(con: duckdb.DuckDBPyConnection, user: User | None, period: str,
             as_of_days: Sequence[int] = DEFAULT_AS_OF_DAYS, months: int = DEFAULT_MONTHS) -> Backtest:
    """Forecast each of the `months` billing periods before `period` as of each day in `as_of_days`."""
    month_bounds(period)
    if not as_of_days or any(not 1 <= d <= 31 for d in as_of_days):
        raise InputError("backtest: as-of days must be days of the month (1–31)")
    past = _past_months(con, period, months)
    names = org(con, user)
    cc_rows: list[pl.DataFrame] = []
    bu_rows: list[pl.DataFrame] = []
    if past:
        last_past = past[-1]
        data = daily(con, user, last_past, month_bounds(last_past)[1])
        closed = actuals(con, user, past).with_columns(pl.col("amount").cast(pl.Float64))
        for m in past:
            first, last = month_bounds(m)
            actual_cc = closed.filter(pl.col("bp") == m).select("cost_center_id", actual="amount")
            for d in dict.fromkeys(as_of_days):
                as_of = date(first.year, first.month, min(d, last.day))
                if data.first_day is None or (as_of - data.first_day).days + 1 < MIN_BACKTEST_DAYS:
                    continue
                f = with_names(project(data, m, as_of), names)
                if f.is_empty():
                    continue
                # a cost centre with an actual but no forecast was forecast at 0 (nothing known on the as-of day)
                both = f.join(actual_cc, on="cost_center_id", how="full", coalesce=True).pipe(
                    with_names_fill, names).with_columns(pl.col("actual").fill_null(0.0))
                cc_rows.append(both.select(
                    scope_id="cost_center_id", period=pl.lit(m), as_of_day=pl.lit(d, pl.Int64),
                    forecast="month_end", lo="month_end_lo", hi="month_end_hi", actual="actual"))
                units = pl.concat([both, both.with_columns(business_unit=pl.lit(TOTAL))])
                bu = roll_up(units, "business_unit").join(
                    units.group_by("business_unit").agg(pl.col("actual").sum()), on="business_unit")
                bu_rows.append(bu.select(
                    scope_id="business_unit", period=pl.lit(m), as_of_day=pl.lit(d, pl.Int64),
                    forecast="month_end", lo="month_end_lo", hi="month_end_hi", actual="actual"))
    rows = pl.concat(cc_rows).cast(ROWS_SCHEMA) if cc_rows else pl.DataFrame(schema=ROWS_SCHEMA)  # type: ignore[arg-type]
    bu_all = pl.concat(bu_rows).cast(ROWS_SCHEMA) if bu_rows else pl.DataFrame(schema=ROWS_SCHEMA)  # type: ignore[arg-type]
    by_cc = accuracy(rows, "scope_id").rename({"scope_id": "cost_center_id"})
    by_cc = by_cc.join(names, on="cost_center_id", how="left")
    by_bu = accuracy(bu_all, "scope_id").rename({"scope_id": "business_unit"})
    return Backtest(by_cc, by_bu, rows)


def with_names_fill(df: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """After a full join, fill the estimates of cost centres that had no forecast with 0 and their names."""
    zero = [c for c in ("to_date", "known_rest", "run_rate_rest", "month_end", "month_end_lo", "month_end_hi",
                        "month_end_hw", "next_quarter", "next_quarter_lo", "next_quarter_hi", "next_quarter_hw")
            if c in df.columns]
    filled = df.with_columns([pl.col(c).fill_null(0) for c in zero])
    return with_names(filled.drop("cost_center", "business_unit", strict=False), names)
