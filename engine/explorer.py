"""Drill-down queries (business unit → cost centre → application → service → resource), scoped in SQL."""

from __future__ import annotations

import duckdb
import polars as pl

from engine.attribution import attributed_cte
from engine.users import User

LEVELS = ("business_unit", "cost_center", "application", "service_name", "resource_id")


def breakdown(con: duckdb.DuckDBPyConnection, user: User, period: str, level: str,
              path: dict[str, str] | None = None, provider: str | None = None) -> pl.DataFrame:
    """Cost at one drill level for `period`, with the previous period beside it, filtered by the drill path."""
    if level not in LEVELS:
        raise ValueError(f"unknown drill level {level!r}")
    base, params = attributed_cte(user)
    where, wparams = ["TRUE"], []
    for col, value in (path or {}).items():
        if col not in LEVELS:
            raise ValueError(f"unknown drill level {col!r}")
        where.append(f"{col} = ?")
        wparams.append(value)
    if provider:
        where.append("provider = ?")
        wparams.append(provider)
    sql = (
        base
        + f"""
        , prev AS (SELECT max(period) AS p FROM scoped WHERE period < ?)
        SELECT coalesce({level}, '(none)') AS name,
               coalesce(sum(effective_cost) FILTER (WHERE period = ?), 0)::DECIMAL(18, 2) AS cost,
               coalesce(sum(effective_cost) FILTER (WHERE period = (SELECT p FROM prev)), 0)::DECIMAL(18, 2)
                 AS previous
        FROM scoped WHERE {' AND '.join(where)}
        GROUP BY ALL HAVING cost <> 0 OR previous <> 0
        ORDER BY cost DESC, name
        """
    )
    return con.sql(sql, params=[*params, period, period, *wparams]).pl().with_columns(
        delta=pl.col("cost") - pl.col("previous")
    )


def monthly(con: duckdb.DuckDBPyConnection, user: User, by: str = "application",
            path: dict[str, str] | None = None) -> pl.DataFrame:
    """Effective cost per period grouped by one level, for trend charts."""
    if by not in LEVELS:
        raise ValueError(f"unknown drill level {by!r}")
    base, params = attributed_cte(user)
    where, wparams = ["TRUE"], []
    for col, value in (path or {}).items():
        if col not in LEVELS:
            raise ValueError(f"unknown drill level {col!r}")
        where.append(f"{col} = ?")
        wparams.append(value)
    return con.sql(
        base + f"SELECT period, coalesce({by}, '(none)') AS grp, sum(effective_cost)::DOUBLE AS cost "
        f"FROM scoped WHERE {' AND '.join(where)} GROUP BY ALL ORDER BY ALL",
        params=[*params, *wparams],
    ).pl()
