"""Every figure the executive overview shows, from one pass over the lines.

`overview.kpis`, `spend_by_month`, `top_movers` and `untagged_share_by_month` each attribute every line again (the
four joins of engine.insights.attribution): the overview page used to pay for five such scans plus two of the
period health. Here one GROUPING SETS query sums the scoped lines per period, per period × business unit and per
period × service; the figures are shaped from those few hundred rows. It reads the store's rollup of the lines
(engine/store/rollup.py) while that is current, the lines otherwise. The results equal the per-figure functions
exactly (tests/unit/insights/test_overview_figures.py): the same sums, the same DOUBLE casts, the same ordering.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

from engine.access.users import User
from engine.insights.attribution import attributed_cte
from engine.insights.overview import Kpis, kpis_from, previous_period, stray_periods
from engine.store import rollup

_SETS = """
SELECT grouping(business_unit) AS g_bu, grouping(service_name) AS g_svc, period, business_unit, service_name,
       sum(effective_cost) AS total,
       sum(effective_cost) FILTER (WHERE untagged) AS untagged,
       sum(effective_cost) FILTER (WHERE mistagged) AS mistagged,
       sum(effective_cost) FILTER (WHERE cost_center_id IS NULL) AS unattributed,
       sum(effective_cost)::DOUBLE AS total_d,
       100 * (sum(effective_cost) FILTER (WHERE untagged))::DOUBLE / nullif(sum(effective_cost), 0)::DOUBLE
         AS untagged_pct,
       100 * (sum(effective_cost) FILTER (WHERE mistagged))::DOUBLE / nullif(sum(effective_cost), 0)::DOUBLE
         AS mistagged_pct
FROM scoped GROUP BY GROUPING SETS ((period), (period, business_unit), (period, service_name))
"""

_SPEND = {"period": pl.Utf8(), "grp": pl.Utf8(), "cost": pl.Float64()}
_MOVERS = {"grp": pl.Utf8(), "cost": pl.Float64(), "previous": pl.Float64(), "delta": pl.Float64()}
_UNTAGGED = {"period": pl.Utf8(), "untagged_pct": pl.Float64(), "mistagged_pct": pl.Float64()}


@dataclass(frozen=True)
class Figures:
    kpis: Kpis
    spend: pl.DataFrame            # = overview.spend_by_month(con, user, "business_unit")
    movers_bu: pl.DataFrame        # = overview.top_movers(con, user, period, "business_unit")
    movers_service: pl.DataFrame   # = overview.top_movers(con, user, period, "service_name")
    untagged: pl.DataFrame         # = overview.untagged_share_by_month(con, user)


def figures(con: duckdb.DuckDBPyConnection, user: User, period: str, limit: int = 5,
            stray: set[str] | None = None) -> Figures:
    """The overview's KPIs, spend by month and business unit, top movers by business unit and by service, and the
    untagged share by month for `period`, scoped to what `user` may see. `stray`: the stray periods when the caller
    has them already (overview.period_health), else they are read."""
    base, params = attributed_cte(user, rollup.lines_source(con))   # the rollup's sums while it is current
    rows = con.execute(base + _SETS, params).fetchall()
    months = [r for r in rows if r[0] == 1 and r[1] == 1]
    by_bu = [(r[2], r[3], r[9]) for r in rows if r[0] == 0]
    by_service = [(r[2], r[4], r[9]) for r in rows if r[1] == 0]
    sums: dict[str, tuple[Decimal | None, ...]] = {r[2]: (r[5], r[6], r[7], r[8]) for r in months}
    spend = pl.DataFrame(by_bu, schema=_SPEND, orient="row").sort(["period", "grp", "cost"], nulls_last=True)
    untagged = pl.DataFrame([(r[2], r[10], r[11]) for r in months], schema=_UNTAGGED, orient="row").sort("period")
    stray = set(stray_periods(con)) if stray is None else stray
    return Figures(kpis_from(sums, stray, period), spend, _movers(by_bu, period, limit),
                   _movers(by_service, period, limit), untagged)


def _movers(rows: list[tuple[str, str | None, float | None]], period: str, limit: int) -> pl.DataFrame:
    """As overview.top_movers: groups with spend in `period`, ranked by the absolute change against the calendar
    month before (0 when that month has none), ties by name (a missing name last)."""
    prev = previous_period(period)
    now = {g: c for p, g, c in rows if p == period and c is not None}
    before = {g: c for p, g, c in rows if p == prev and c is not None}
    ranked = sorted(now, key=lambda g: (-abs(now[g] - before.get(g, 0.0)), g is None, g or ""))[:limit]
    return pl.DataFrame([(g, now[g], before.get(g, 0.0), now[g] - before.get(g, 0.0)) for g in ranked],
                        schema=_MOVERS, orient="row")
