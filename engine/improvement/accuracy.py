"""Allocation accuracy: forecast vs actual per cost centre, reusing the forecast backtest
(engine/insights/forecast/backtest.py): MAPE and bias per cost centre, per period and per quarter, and plan (the
`budget` table) vs actual per cost centre and period."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.insights.forecast import backtest
from engine.store.sql import query


@dataclass(frozen=True)
class Accuracy:
    by_cost_center: pl.DataFrame   # cost_center_id, months, forecasts, mape, bias, coverage, names
    by_period: pl.DataFrame        # period, mape, bias (over every cost centre's forecasts of the month)
    by_quarter: pl.DataFrame       # quarter, mape, bias
    total_mape: float | None       # over every forecast


def accuracy(con: duckdb.DuckDBPyConnection, user: User | None, period: str, months: int = 6) -> Accuracy:
    bt = backtest.backtest(con, user, period, months=months)
    rows = bt.rows
    per = backtest.accuracy(rows, "period")
    q = backtest.accuracy(rows.with_columns(
        quarter=pl.col("period").str.slice(0, 4) + "-Q"
        + ((pl.col("period").str.slice(5, 2).cast(pl.Int64) - 1) // 3 + 1).cast(pl.String)), "quarter")
    nz = rows.filter(pl.col("actual") != 0)
    err = ((nz["forecast"] - nz["actual"]).abs() / nz["actual"].abs()).mean()
    total = None if nz.is_empty() or err is None else float(err) * 100  # type: ignore[arg-type]
    return Accuracy(bt.by_cost_center, per.select("period", "mape", "bias"), q.select("quarter", "mape", "bias"),
                    total)


def plan_vs_actual(con: duckdb.DuckDBPyConnection, user: User | None) -> pl.DataFrame:
    """Per (period, cost_center_id) with a budget: plan, actual (direct spend), variance and variance %."""
    pred, params = cost_center_filter(user, "b.cost_center_id")
    return query(con, f"""
        WITH a AS (SELECT billing_period AS period, tag_cost_center AS cost_center_id, sum(effective_cost) AS actual
                   FROM cost_line GROUP BY ALL)
        SELECT b.period, b.cost_center_id, b.amount AS plan, coalesce(a.actual, 0)::DECIMAL(18, 2) AS actual,
               (coalesce(a.actual, 0) - b.amount)::DECIMAL(18, 2) AS variance,
               CASE WHEN b.amount <> 0 THEN 100.0 * (coalesce(a.actual, 0) - b.amount) / b.amount END AS variance_pct
        FROM budget b LEFT JOIN a ON a.period = b.period AND a.cost_center_id = b.cost_center_id
        WHERE {pred} ORDER BY 1, 2""", params)
