"""Executive overview figures, aggregated in DuckDB so pages only ever receive small frames.

Before a month is allocated, spend is attributed directly: a valid cost-centre tag, else the account owner,
else 'Unattributed'. Posted allocation runs (engine/allocation) replace this view once they exist.

Vocabulary (docs/glossary.md): period-over-period compares calendar neighbours (2026-10 with 2026-09, never with the
last earlier month that happens to hold data); a month whose lines are a stray handful (`STRAY_SHARE` of the median
month) is flagged and kept out of the trend charts; "Charged" is what consumers are charged, the unallocated line
excluded; recovery reads the run of the approved rule version in force for the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from statistics import median

import duckdb
import polars as pl

from engine.access.users import User
from engine.costmodels.scenarios import Scenario, apply_scenario, load_allocated
from engine.errors import ApportionError, InputError
from engine.insights.attribution import attributed_cte
from engine.rules import versions
from engine.rules.model import UNALLOCATED
from engine.store import rollup
from engine.store.sql import frame


def _base(user: User) -> tuple[str, list[object]]:
    return attributed_cte(user)


def periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall()]


def previous_period(period: str) -> str:
    """The calendar month before `period` (YYYY-MM): the only neighbour period-over-period compares with."""
    try:
        y, m = int(period[:4]), int(period[5:7])
    except ValueError:
        raise InputError(f"period must be YYYY-MM, not {period!r}") from None
    if len(period) != 7 or period[4] != "-" or not 1 <= m <= 12:
        raise InputError(f"period must be YYYY-MM, not {period!r}")
    return f"{y - 1}-12" if m == 1 else f"{y}-{m - 1:02d}"


STRAY_SHARE = Decimal("0.01")  # a month with < 1 % of the median month's lines, or of its cost, holds stray rows


@dataclass(frozen=True)
class PeriodHealth:
    period: str
    lines: int
    cost: Decimal
    stray: bool
    reason: str  # why it is flagged ('' when it is a regular month)


def period_health(con: duckdb.DuckDBPyConnection) -> dict[str, PeriodHealth]:
    """Every billing period with its line count and cost, and whether it holds only stray rows.

    Rule: a period is *stray* when its line count is below `STRAY_SHARE` (1 %) of the median month's line count,
    or its absolute cost below 1 % of the median month's absolute cost (a handful of late lines for a month outside
    the loaded range). Stray periods stay in the store and in the pickers, flagged; the overview keeps them out of
    its trend charts and never uses one as the neighbour a month is compared with."""
    source = ("SELECT billing_period, sum(lines), coalesce(sum(effective_cost), 0) FROM line_rollup"
              if rollup.current(con) else
              "SELECT billing_period, count(*), coalesce(sum(effective_cost), 0) FROM cost_line")
    rows = con.execute(source + " GROUP BY 1 ORDER BY 1").fetchall()
    if not rows:
        return {}
    med_lines = Decimal(median([int(r[1]) for r in rows]))
    med_cost = Decimal(median([abs(Decimal(r[2])) for r in rows]))
    out: dict[str, PeriodHealth] = {}
    for period, n, cost in rows:
        reasons = []
        if Decimal(n) < STRAY_SHARE * med_lines:
            reasons.append(f"{n:,} lines, under 1 % of the median month's {med_lines:,.0f}")
        if abs(Decimal(cost)) < STRAY_SHARE * med_cost:
            reasons.append("cost under 1 % of the median month's")
        out[period] = PeriodHealth(period, int(n), Decimal(cost), bool(reasons), "; ".join(reasons))
    return out


def business_units(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Business-unit names in id order: the order ui/charts.py hands out colours in (stable across charts)."""
    return [r[0] for r in con.execute("SELECT name FROM org_unit WHERE kind = 'business_unit' ORDER BY unit_id")
            .fetchall()]


def stray_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [p for p, h in period_health(con).items() if h.stray]


@dataclass(frozen=True)
class Kpis:
    period: str
    total: Decimal
    previous_total: Decimal | None
    untagged: Decimal
    mistagged: Decimal
    unattributed: Decimal
    run_rate_forecast: Decimal | None  # this month grown by the average growth over the two calendar months before
    previous_period: str = ""          # the calendar month before `period`
    previous_state: str = "data"       # 'data', 'no data' (the neighbour is empty) or 'stray' (only stray rows)

    @property
    def change_pct(self) -> float | None:
        if self.previous_state != "data" or not self.previous_total:
            return None
        return float((self.total - self.previous_total) / self.previous_total * 100)

    @property
    def untagged_pct(self) -> float:
        return float(self.untagged / self.total * 100) if self.total else 0.0

    @property
    def unattributed_pct(self) -> float:
        return float(self.unattributed / self.total * 100) if self.total else 0.0


def kpis(con: duckdb.DuckDBPyConnection, user: User, period: str) -> Kpis:
    """The month's headline figures; the change is against the calendar month before (`previous_state` says
    'no data' when that month is empty and 'stray' when it holds only stray rows: then there is no change)."""
    prev_p = previous_period(period)
    prev2_p = previous_period(prev_p)
    base, params = _base(user)
    rows = con.execute(
        base
        + """
        SELECT period, sum(effective_cost),
               sum(effective_cost) FILTER (WHERE untagged),
               sum(effective_cost) FILTER (WHERE mistagged),
               sum(effective_cost) FILTER (WHERE cost_center_id IS NULL)
        FROM scoped WHERE period IN (?, ?, ?) GROUP BY period
        """,
        [*params, period, prev_p, prev2_p],
    ).fetchall()
    return kpis_from({r[0]: r[1:] for r in rows}, set(stray_periods(con)), period)


def kpis_from(by: dict[str, tuple[Decimal | None, ...]], stray: set[str], period: str) -> Kpis:
    """The KPIs from each period's (total, untagged, mistagged, unattributed) sums — None for an empty sum — and
    the stray periods. Shared by `kpis` and the overview's one-pass figures (overview_figures)."""
    prev_p = previous_period(period)
    prev2_p = previous_period(prev_p)
    zero = Decimal(0)
    state = "stray" if prev_p in stray else "data" if prev_p in by else "no data"
    cur = by.get(period)
    if cur is None:
        return Kpis(period, zero, None, zero, zero, zero, None, prev_p, state)
    total = cur[0] or zero
    prev = by[prev_p][0] if state == "data" else None
    forecast = None
    two_back = by.get(prev2_p)
    if state == "data" and two_back is not None and prev2_p not in stray:
        before = two_back[0] or zero
        growth = (Decimal(total) / Decimal(before)) ** Decimal("0.5") if before else Decimal(1)
        forecast = (Decimal(total) * growth).quantize(Decimal("0.01"))
    return Kpis(period, total, prev, cur[1] or zero, cur[2] or zero, cur[3] or zero, forecast, prev_p, state)


def spend_by_month(con: duckdb.DuckDBPyConnection, user: User, by: str = "business_unit",
                   exclude: list[str] | None = None) -> pl.DataFrame:
    """Effective cost per period and business unit (or provider / service_category); `exclude` drops periods
    (the overview passes the stray ones, and says so)."""
    if by not in ("business_unit", "provider", "service_category", "cost_center"):
        raise InputError(f"cannot group spend by {by!r}")
    base, params = _base(user)
    out = frame(con.sql(
        base + f"SELECT period, {by} AS grp, sum(effective_cost)::DOUBLE AS cost FROM scoped GROUP BY ALL ORDER BY ALL",
        params=params,
    ))
    return out.filter(~pl.col("period").is_in(exclude)) if exclude else out


def top_movers(con: duckdb.DuckDBPyConnection, user: User, period: str, by: str = "business_unit",
               limit: int = 5) -> pl.DataFrame:
    """Largest absolute changes against the calendar month before (a missing neighbour counts as 0: the caller
    says 'no data' rather than showing everything as a mover, see `Kpis.previous_state`)."""
    if by not in ("business_unit", "service_name", "cost_center"):
        raise InputError(f"cannot rank movers by {by!r}")
    base, params = _base(user)
    return frame(con.sql(
        base
        + f"""
        SELECT {by} AS grp,
               sum(effective_cost) FILTER (WHERE period = ?)::DOUBLE AS cost,
               coalesce(sum(effective_cost) FILTER (WHERE period = ?), 0)::DOUBLE AS previous
        FROM scoped WHERE period IN (?, ?) GROUP BY ALL
        HAVING cost IS NOT NULL
        ORDER BY abs(cost - previous) DESC, grp LIMIT ?
        """,
        params=[*params, period, previous_period(period), period, previous_period(period), limit],
    )).with_columns(delta=pl.col("cost") - pl.col("previous"))


def untagged_share_by_month(con: duckdb.DuckDBPyConnection, user: User,
                            exclude: list[str] | None = None) -> pl.DataFrame:
    base, params = _base(user)
    out = frame(con.sql(
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
    return out.filter(~pl.col("period").is_in(exclude)) if exclude else out


@dataclass(frozen=True)
class ModelInForce:
    """The allocation model the overview reads for a period: the approved rule version in force, and its run."""

    rule_set: str
    version: int
    approver: str | None
    run_key: str | None  # that version's latest posted run for the period (None: not closed under it)


def model_in_force(con: duckdb.DuckDBPyConnection, period: str) -> ModelInForce | None:
    """The approved rule version in force for `period` (of the rule set the period was posted with, else the only
    rule set) and its latest posted run. Drafts and pending versions are never read, whatever was saved last."""
    row = con.execute("SELECT rule_set FROM allocation_run WHERE period = ? AND status = 'posted'"
                      " ORDER BY finished_at DESC NULLS LAST, run_key LIMIT 1", [period]).fetchall()
    if not row:
        row = con.execute("SELECT DISTINCT name FROM rule_set ORDER BY 1 LIMIT 1").fetchall()
        if not row:
            return None
    try:
        rv = versions.as_of(con, row[0][0], period)
    except ApportionError:
        return None
    run = con.execute("SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted' AND rule_set = ?"
                      " AND rule_version = ? ORDER BY finished_at DESC NULLS LAST, run_key LIMIT 1",
                      [period, rv.name, rv.version]).fetchall()
    return ModelInForce(rv.name, rv.version, rv.approver, run[0][0] if run else None)


@dataclass(frozen=True)
class RecoveryKpis:
    run_key: str
    cost: Decimal            # posted in the run (all cost of the month)
    unallocated: Decimal     # on the explicit UNALLOCATED line
    charged: Decimal         # "Charged": what consumers are charged (shown, under showback); unallocated line excluded
    invoiced: Decimal        # what is invoiced (0 under showback)
    rule_set: str = ""
    rule_version: int = 0

    @property
    def allocated_pct(self) -> float:
        return float((self.cost - self.unallocated) / self.cost * 100) if self.cost else 0.0

    @property
    def recovered_pct(self) -> float:
        return float(self.invoiced / self.cost * 100) if self.cost else 0.0


def charged(applied: pl.DataFrame) -> Decimal:
    """The one definition of "Charged": Σ charge over consumers, the unallocated line (absorbed centrally)
    excluded. Every page that shows a "Charged" figure uses this (docs/glossary.md)."""
    return Decimal(applied.filter(pl.col("target_id") != UNALLOCATED)["charge"].sum())


def recovery(con: duckdb.DuckDBPyConnection, period: str, scenario: Scenario) -> RecoveryKpis | None:
    """Allocated vs unallocated and cost recovered under `scenario`, from the posted run of the approved rule
    version in force for the period (None until the month is closed under it)."""
    model = model_in_force(con, period)
    if model is None or model.run_key is None:
        return None
    from engine.insights.comparison import on_demand_uplift

    allocated = load_allocated(con, model.run_key)
    od = on_demand_uplift(con, period) if scenario.unused_commitment_policy == "on_demand_equivalent" else None
    applied = apply_scenario(allocated, scenario, on_demand=od)
    cost = Decimal(allocated["posted_amount"].sum())
    unalloc = Decimal(allocated.filter(pl.col("target_id") == UNALLOCATED)["posted_amount"].sum())
    return RecoveryKpis(model.run_key, cost, unalloc, charged(applied), Decimal(applied["invoiced"].sum()),
                        model.rule_set, model.version)
