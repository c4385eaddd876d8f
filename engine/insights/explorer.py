"""Drill-down queries (business unit → cost centre → application → service → resource), scoped in SQL.

"Previous month" is always the calendar month before (engine.insights.overview.previous_period); a line with a
cost centre but no application shows as NO_APPLICATION, so "Unattributed" keeps its one meaning (no cost centre).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import polars as pl

from engine.access import grants
from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.errors import InputError
from engine.insights.attribution import LINE_OWNER, LINE_OWNER_JOINS, UNATTRIBUTED, attributed_cte
from engine.insights.overview import previous_period
from engine.rules.model import UNALLOCATED
from engine.store.sql import frame

NO_APPLICATION = "No application"  # a line whose cost centre is known but whose application is not
# `shown`: the attributed lines with the explorer's labels (appended to attributed_cte's WITH clause)
_SHOWN = (f", shown AS (SELECT * REPLACE (CASE WHEN app_id IS NULL THEN '{NO_APPLICATION}' ELSE application END"
          " AS application) FROM scoped)")

LEVELS = ("business_unit", "cost_center", "application", "service_name", "resource_id")
LEVEL_TITLES = {
    "business_unit": "Business unit",
    "cost_center": "Cost centre",
    "application": "Application",
    "service_name": "Service",
    "resource_id": "Resource",
}


@dataclass(frozen=True)
class Filters:
    """The drill path (level → chosen value) plus side filters; all values are bound parameters, never SQL text."""

    path: dict[str, str] = field(default_factory=dict)
    provider: str | None = None
    environment: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None

    def next_level(self) -> str | None:
        for level in LEVELS:
            if level not in self.path:
                return level
        return None

    def sql(self) -> tuple[str, list[object]]:
        where: list[str] = ["TRUE"]
        params: list[object] = []
        for col, value in self.path.items():
            if col not in LEVELS:
                raise InputError(f"unknown drill level {col!r}")
            where.append(f"coalesce({col}, '(none)') = ?")
            params.append(value)
        if self.provider:
            where.append("provider = ?")
            params.append(self.provider)
        if self.environment:
            where.append("environment = ?")
            params.append(self.environment)
        if self.tag_key:
            if self.tag_value:
                where.append("tags[?] = ?")
                params.extend([self.tag_key, self.tag_value])
            else:
                where.append("tags[?] IS NOT NULL")
                params.append(self.tag_key)
        return " AND ".join(where), params


def breakdown(con: duckdb.DuckDBPyConnection, user: User, period: str, level: str,
              filters: Filters | None = None) -> pl.DataFrame:
    """Cost at one drill level for `period`, with the previous period beside it."""
    if level not in LEVELS:
        raise InputError(f"unknown drill level {level!r}")
    if level == "resource_id":
        grants.require_resource_lines(con, user)
    base, params = attributed_cte(user)
    where, wparams = (filters or Filters()).sql()
    prev = previous_period(period)
    sql = (
        base + _SHOWN
        + f"""
        SELECT coalesce({level}, '(none)') AS name,
               coalesce(sum(effective_cost) FILTER (WHERE period = ?), 0)::DECIMAL(18, 2) AS cost,
               coalesce(sum(effective_cost) FILTER (WHERE period = ?), 0)::DECIMAL(18, 2) AS previous
        FROM shown WHERE period IN (?, ?) AND {where}
        GROUP BY ALL HAVING cost <> 0 OR previous <> 0
        ORDER BY cost DESC, name
        """
    )
    return frame(con.sql(sql, params=[*params, period, prev, period, prev, *wparams])).with_columns(
        delta=pl.col("cost") - pl.col("previous")
    )


def has_lines(con: duckdb.DuckDBPyConnection, user: User, period: str, filters: Filters | None = None) -> bool:
    """Whether `period` holds any line the user may see under `filters` (the explorer says "no data" otherwise)."""
    base, params = attributed_cte(user)
    where, wparams = (filters or Filters()).sql()
    return bool(con.execute(base + _SHOWN + f" SELECT count(*) FROM shown WHERE period = ? AND {where}",
                            [*params, period, *wparams]).fetchall()[0][0])


def monthly(con: duckdb.DuckDBPyConnection, user: User, by: str = "application",
            filters: Filters | None = None) -> pl.DataFrame:
    """Effective cost per period grouped by one level, for trend charts."""
    if by not in LEVELS:
        raise InputError(f"unknown drill level {by!r}")
    base, params = attributed_cte(user)
    where, wparams = (filters or Filters()).sql()
    return frame(con.sql(
        base + _SHOWN + f"SELECT period, coalesce({by}, '(none)') AS grp, sum(effective_cost)::DOUBLE AS cost "
        f"FROM shown WHERE {where} GROUP BY ALL ORDER BY ALL",
        params=[*params, *wparams],
    ))


def providers(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT provider FROM cost_line ORDER BY 1").fetchall()]


def environments(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT DISTINCT tag_environment FROM cost_line WHERE tag_environment IS NOT NULL ORDER BY 1").fetchall()]


def tag_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Normalised tag keys present on cost lines, for the tag filter."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT unnest(map_keys(tags)) AS k FROM cost_line WHERE tags IS NOT NULL ORDER BY 1").fetchall()]


def explain(con: duckdb.DuckDBPyConnection, user: User, period: str, cost_center: str | None = None,
            limit: int = 200) -> pl.DataFrame:
    """Posted amounts of the latest posted run for `period`, each with the step, method, driver and share
    that produced it; empty when the month has not been allocated yet."""
    pred, sparams = cost_center_filter(user, "r.cost_center_id")
    where, params = [pred, "r.run_key = (SELECT run_key FROM latest)"], [*sparams]
    if cost_center:  # the drill path carries names; ids are looked up here
        where.append("r.cost_center_id IN (SELECT unit_id FROM org_unit WHERE name = ? OR unit_id = ?)")
        params.extend([cost_center, cost_center])
    return frame(con.sql(
        f"""
        WITH latest AS (
            SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'
            ORDER BY finished_at DESC NULLS LAST, started_at DESC LIMIT 1
        )
        SELECT r.step, r.step_name, r.source_pool, r.method, r.driver,
               CASE WHEN r.target_id = ? THEN ? ELSE coalesce(tu.name, ta.name, r.target_id) END AS target,
               r.target_id, coalesce(cc.name, r.cost_center_id) AS cost_center, r.cost_center_id,
               coalesce(ap.name, r.app_id) AS application, r.app_id,
               r.share, sum(r.posted_amount) AS posted_amount
        FROM allocation_result r
        LEFT JOIN org_unit tu ON tu.unit_id = r.target_id LEFT JOIN application ta ON ta.app_id = r.target_id
        LEFT JOIN org_unit cc ON cc.unit_id = r.cost_center_id LEFT JOIN application ap ON ap.app_id = r.app_id
        WHERE {' AND '.join(where)}
        GROUP BY ALL ORDER BY posted_amount DESC LIMIT ?
        """,
        params=[period, UNALLOCATED, "Unallocated (carried centrally)", *params, limit],
    ))


_RESOURCE_LINES = """
WITH cc AS (
    SELECT c.unit_id AS cost_center_id, c.name AS cost_center, b.name AS business_unit
    FROM org_unit c LEFT JOIN org_unit b ON b.unit_id = c.parent_id
    WHERE c.kind = 'cost_center'
),
attributed AS (
    SELECT l.charge_period_start AS s, l.charge_period_end AS e, l.provider, l.service_name, l.resource_id,
           l.tag_environment AS environment, l.tags, l.effective_cost, l.consumed_quantity, l.consumed_unit,
           {owner}
    FROM cost_line l
    {owner_joins}
    WHERE l.resource_id = ? AND l.charge_period_start < ? AND l.charge_period_end > ?
),
scoped AS (
    SELECT a.*, coalesce(cc.business_unit, ?) AS business_unit, coalesce(cc.cost_center, ?) AS cost_center,
           coalesce(ap.name, a.app_id, ?) AS application
    FROM attributed a LEFT JOIN cc USING (cost_center_id) LEFT JOIN application ap ON ap.app_id = a.app_id
    WHERE {scope}
),
days AS (SELECT CAST(d AS TIMESTAMP) AS d FROM generate_series(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP),
                                                                INTERVAL 1 DAY) t(d)),
spread AS (
    SELECT CAST(days.d AS DATE) AS day, coalesce(consumed_unit, '') AS unit,
           (epoch(least(e, days.d + INTERVAL 1 DAY)) - epoch(greatest(s, days.d))) / nullif(epoch(e) - epoch(s), 0)
               AS f,
           effective_cost, consumed_quantity
    FROM scoped JOIN days ON scoped.s < days.d + INTERVAL 1 DAY AND scoped.e > days.d
    WHERE {where}
)
SELECT day, unit, CAST(round(sum(effective_cost * f), 2) AS DECIMAL(18, 2)) AS cost,
       sum(consumed_quantity * f) AS quantity
FROM spread GROUP BY ALL ORDER BY day, unit
"""


def resource_daily(con: duckdb.DuckDBPyConnection, user: User, period: str, resource_id: str,
                   filters: Filters | None = None) -> pl.DataFrame:
    """One resource's month, day by day: effective cost, consumed quantity and unit price (cost ÷ quantity), per
    consumed unit. A line spanning several days is spread over them by its overlap. The attribution, the user's
    scope and the drill path's filters apply as in `breakdown` (the same lines, shown by day)."""
    grants.require_resource_lines(con, user)
    try:
        first = date(int(period[:4]), int(period[5:7]), 1)
    except ValueError:
        raise InputError(f"period must be YYYY-MM, not {period!r}") from None
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    pred, sparams = cost_center_filter(user, "a.cost_center_id")
    path = {k: v for k, v in (filters or Filters()).path.items() if k != "resource_id"}
    f = filters or Filters()
    where, wparams = Filters(path, f.provider, f.environment, f.tag_key, f.tag_value).sql()
    sql = _RESOURCE_LINES.format(scope=pred, where=where, owner=LINE_OWNER, owner_joins=LINE_OWNER_JOINS)
    params: list[object] = [resource_id, last + timedelta(days=1), first, UNATTRIBUTED, UNATTRIBUTED, NO_APPLICATION,
                            *sparams, first, last, *wparams]
    out = frame(con.sql(sql, params=params))
    return out.with_columns(
        unit_price=pl.when(pl.col("quantity") > 0).then(pl.col("cost").cast(pl.Float64) / pl.col("quantity")))
