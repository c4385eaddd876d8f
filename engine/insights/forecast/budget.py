"""Budget vs forecast vs actual per cost centre and business unit, with the backtested accuracy beside it.

Budget is the `budget` table (period, cost_center_id, amount). The actual and the forecast are direct spend (the
attribution of engine.insights.attribution: tag, else account owner), before allocation. Status against the budget:
`over` when even the low end of the 80% interval is above it, `at risk` when the forecast or the high end is,
`under` otherwise, `no budget` when the cost centre has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from engine.access.users import User
from engine.insights.forecast.backtest import DEFAULT_AS_OF_DAYS, Backtest, backtest
from engine.insights.forecast.projection import MONEY, QUARTER_MONTHS, SCHEMA, TOTAL, forecast, roll_up, with_names
from engine.insights.forecast.series import budgets, month_bounds, org, shift


@dataclass(frozen=True)
class BudgetView:
    period: str
    as_of: date
    closed: bool                       # the as-of day is the period's last day: the forecast is the actual
    by_cost_center: pl.DataFrame
    by_business_unit: pl.DataFrame     # ends with a TOTAL row
    accuracy: Backtest


def status(df: pl.DataFrame) -> pl.DataFrame:
    """Variance and status against the budget (null budget → `no budget`)."""
    b = pl.col("budget").cast(pl.Float64)
    return df.with_columns(
        variance=(pl.col("month_end") - b).round(2),
        variance_pct=((pl.col("month_end") - b) / b * 100).round(1),
        over_budget=pl.col("month_end") > b,
        status=pl.when(b.is_null()).then(pl.lit("no budget"))
        .when(pl.col("month_end_lo") > b).then(pl.lit("over"))
        .when((pl.col("month_end") > b) | (pl.col("month_end_hi") > b)).then(pl.lit("at risk"))
        .otherwise(pl.lit("under")),
        quarter_variance=(pl.col("next_quarter") - pl.col("quarter_budget").cast(pl.Float64)).round(2),
    )


def _with_budgets(df: pl.DataFrame, month: pl.DataFrame, quarter: pl.DataFrame) -> pl.DataFrame:
    return df.join(month, on="cost_center_id", how="left").join(quarter, on="cost_center_id", how="left")


def view(con: duckdb.DuckDBPyConnection, user: User | None, period: str, as_of: date,
         as_of_days: Sequence[int] = DEFAULT_AS_OF_DAYS) -> BudgetView:
    """The executives' table: budget, actual to date, month-end forecast (80% interval), next quarter (and its
    budget when all three months have one), over/under budget, backtested MAPE and bias; per cost centre and per
    business unit, in the user's scope."""
    _, last = month_bounds(period)
    quarter_periods = [shift(period, k) for k in range(1, QUARTER_MONTHS + 1)]
    b = budgets(con, user, [period, *quarter_periods])
    month_b = b.filter(pl.col("period") == period).select("cost_center_id", budget=pl.col("amount").cast(MONEY))
    quarter_b = b.filter(pl.col("period").is_in(quarter_periods)).group_by("cost_center_id").agg(
        quarter_budget=pl.col("amount").sum().cast(MONEY), n=pl.len()
    ).filter(pl.col("n") == QUARTER_MONTHS).drop("n")
    cc = forecast(con, user, period, as_of)
    acc = backtest(con, user, period, as_of_days)
    # cost centres with a budget but no spend yet stay visible (forecast 0)
    missing = month_b.join(cc.select("cost_center_id"), on="cost_center_id", how="anti")
    if missing.height:
        zeros = pl.DataFrame({"cost_center_id": missing["cost_center_id"]}).with_columns(
            [pl.lit(0, dtype=t).alias(c) for c, t in SCHEMA.items() if c != "cost_center_id"])
        cc = pl.concat([cc, with_names(zeros, org(con, user)).select(cc.columns)])
    cc = status(_with_budgets(cc, month_b, quarter_b)).join(
        acc.by_cost_center.select("cost_center_id", "mape", "bias", "coverage", "months"),
        on="cost_center_id", how="left").sort("business_unit", "cost_center_id")

    bu_budget = cc.group_by("business_unit").agg(
        budget=pl.when(pl.col("budget").is_not_null().any()).then(pl.col("budget").sum()),
        quarter_budget=pl.when(pl.col("quarter_budget").is_not_null().any()).then(pl.col("quarter_budget").sum()))
    bu = roll_up(cc, "business_unit").join(bu_budget, on="business_unit", how="left")
    total = roll_up(cc.with_columns(business_unit=pl.lit(TOTAL)), "business_unit").join(
        cc.select(pl.lit(TOTAL).alias("business_unit"),
                  budget=pl.when(pl.col("budget").is_not_null().any()).then(pl.col("budget").sum()),
                  quarter_budget=pl.when(pl.col("quarter_budget").is_not_null().any())
                  .then(pl.col("quarter_budget").sum())),
        on="business_unit")
    bu = status(pl.concat([bu, total.select(bu.columns)])).join(
        acc.by_business_unit.select("business_unit", "mape", "bias", "coverage", "months"),
        on="business_unit", how="left")
    return BudgetView(period, as_of, as_of == last, cc, bu, acc)
