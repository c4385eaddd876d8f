"""Executive overview figures, aggregated in DuckDB so pages only ever receive small frames.

Before a month is allocated, spend is attributed directly: a valid cost-centre tag, else the account owner,
else 'Unattributed'. Posted allocation runs (engine/allocation) replace this view once they exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

from engine.access.users import User
from engine.allocation.runs import latest_run
from engine.costmodels.scenarios import Scenario, apply_scenario, load_allocated
from engine.errors import InputError
from engine.insights.attribution import attributed_cte
from engine.store.sql import frame


def _base(user: User) -> tuple[str, list[object]]:
    return attributed_cte(user)


def periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall()]


@dataclass(frozen=True)
class Kpis:
    period: str
    total: Decimal
    previous_total: Decimal | None
    untagged: Decimal
    mistagged: Decimal
    unattributed: Decimal
    run_rate_forecast: Decimal | None  # trailing-3-month average growth applied to this month

    @property
    def change_pct(self) -> float | None:
        if not self.previous_total:
            return None
        return float((self.total - self.previous_total) / self.previous_total * 100)

    @property
    def untagged_pct(self) -> float:
        return float(self.untagged / self.total * 100) if self.total else 0.0

    @property
    def unattributed_pct(self) -> float:
        return float(self.unattributed / self.total * 100) if self.total else 0.0


def kpis(con: duckdb.DuckDBPyConnection, user: User, period: str) -> Kpis:
    base, params = _base(user)
    rows = con.execute(
        base
        + """
        SELECT period, sum(effective_cost),
               sum(effective_cost) FILTER (WHERE untagged),
               sum(effective_cost) FILTER (WHERE mistagged),
               sum(effective_cost) FILTER (WHERE cost_center_id IS NULL)
        FROM scoped WHERE period <= ? GROUP BY period ORDER BY period DESC LIMIT 4
        """,
        [*params, period],
    ).fetchall()
    zero = Decimal(0)
    if not rows or rows[0][0] != period:
        return Kpis(period, zero, None, zero, zero, zero, None)
    cur = rows[0]
    prev = rows[1][1] if len(rows) > 1 else None
    forecast = None
    if len(rows) >= 3:
        growth = (Decimal(rows[0][1]) / Decimal(rows[2][1])) ** Decimal("0.5") if rows[2][1] else Decimal(1)
        forecast = (Decimal(cur[1]) * growth).quantize(Decimal("0.01"))
    return Kpis(period, cur[1] or zero, prev, cur[2] or zero, cur[3] or zero, cur[4] or zero, forecast)


def spend_by_month(con: duckdb.DuckDBPyConnection, user: User, by: str = "business_unit") -> pl.DataFrame:
    """Effective cost per period and business unit (or provider / service_category)."""
    if by not in ("business_unit", "provider", "service_category", "cost_center"):
        raise InputError(f"cannot group spend by {by!r}")
    base, params = _base(user)
    return frame(con.sql(
        base + f"SELECT period, {by} AS grp, sum(effective_cost)::DOUBLE AS cost FROM scoped GROUP BY ALL ORDER BY ALL",
        params=params,
    ))


def top_movers(con: duckdb.DuckDBPyConnection, user: User, period: str, by: str = "business_unit",
               limit: int = 5) -> pl.DataFrame:
    """Largest absolute changes against the previous period."""
    if by not in ("business_unit", "service_name", "cost_center"):
        raise InputError(f"cannot rank movers by {by!r}")
    base, params = _base(user)
    return frame(con.sql(
        base
        + f"""
        , prev AS (SELECT max(period) AS p FROM scoped WHERE period < ?)
        SELECT {by} AS grp,
               sum(effective_cost) FILTER (WHERE period = ?)::DOUBLE AS cost,
               coalesce(sum(effective_cost) FILTER (WHERE period = (SELECT p FROM prev)), 0)::DOUBLE AS previous
        FROM scoped GROUP BY ALL
        HAVING cost IS NOT NULL
        ORDER BY abs(cost - previous) DESC, grp LIMIT ?
        """,
        params=[*params, period, period, limit],
    )).with_columns(delta=pl.col("cost") - pl.col("previous"))


def untagged_share_by_month(con: duckdb.DuckDBPyConnection, user: User) -> pl.DataFrame:
    base, params = _base(user)
    return frame(con.sql(
        base
        + """
        SELECT period,
               100 * (sum(effective_cost) FILTER (WHERE untagged))::DOUBLE / nullif(sum(effective_cost), 0)::DOUBLE
                 AS untagged_pct,
               100 * (sum(effective_cost) FILTER (WHERE mistagged))::DOUBLE / nullif(sum(effective_cost), 0)::DOUBLE
                 AS mistagged_pct
        FROM scoped GROUP BY period ORDER BY period
        """,
        params=params,
    ))


@dataclass(frozen=True)
class RecoveryKpis:
    run_key: str
    cost: Decimal            # posted in the run (all cost of the month)
    unallocated: Decimal     # on the explicit UNALLOCATED line
    charged: Decimal         # invoiced under the scenario (0 for showback)

    @property
    def allocated_pct(self) -> float:
        return float((self.cost - self.unallocated) / self.cost * 100) if self.cost else 0.0

    @property
    def recovered_pct(self) -> float:
        return float(self.charged / self.cost * 100) if self.cost else 0.0


def recovery(con: duckdb.DuckDBPyConnection, period: str, scenario: Scenario) -> RecoveryKpis | None:
    """Allocated vs unallocated and cost recovered under `scenario`, from the month's latest posted run."""
    run = latest_run(con, period)
    if run is None:
        return None
    allocated = load_allocated(con, run)
    applied = apply_scenario(allocated, scenario)
    cost = Decimal(allocated["posted_amount"].sum())
    unalloc = Decimal(allocated.filter(pl.col("target_id") == "UNALLOCATED")["posted_amount"].sum())
    return RecoveryKpis(run, cost, unalloc, Decimal(applied["invoiced"].sum()))
