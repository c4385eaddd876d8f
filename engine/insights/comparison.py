"""Scenario comparison over a posted month: side-by-side charges, and the walk from showback to a chargeback."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import duckdb
import polars as pl

from engine.access.scope import visible_cost_centers
from engine.access.users import User
from engine.allocation.runs import latest_run
from engine.costmodels.presets import PRESETS
from engine.costmodels.scenarios import (
    COMPONENTS,
    UNASSIGNED,
    Dimension,
    Scenario,
    compare,
    list_scenarios,
    load_allocated,
    load_scenario,
)
from engine.errors import InputError, NotFound
from engine.insights.attribution import LINE_OWNER, LINE_OWNER_JOINS
from engine.insights.workshop import idle_base
from engine.rules.model import UNALLOCATED
from engine.store.sql import frame

# Display names of the targets that are not org units: one name each, on every page (docs/glossary.md).
SPECIAL_NAMES = {UNALLOCATED: "Unallocated (carried centrally)", UNASSIGNED: "Not in the org tree",
                 "(none)": "No application"}

WATERFALL_STEPS = [("delta_subsidy", "Subsidy"), ("delta_commitment_central", "Commitment kept central"),
                   ("delta_markup", "Markup"), ("delta_penalty", "Idle penalty"), ("delta_rate_variance", "Rate card")]


PRESETS_BY_NAME = {s.name: s for s in PRESETS}  # the approved house models (saved scenarios are workshop drafts)
HOUSE_MODEL = "Full-recovery chargeback"   # the model statements and the overview default to


def posted_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT DISTINCT period FROM allocation_run WHERE status = 'posted' ORDER BY 1").fetchall()]


def available(con: duckdb.DuckDBPyConnection) -> dict[str, Scenario]:
    """Presets first, then every saved scenario (latest version); a saved one may shadow a preset by name."""
    found = {s.name: s for s in PRESETS}
    for name in list_scenarios(con)["name"].to_list():
        found[name] = load_scenario(con, name)
    return found


def compare_period(con: duckdb.DuckDBPyConnection, user: User, period: str, scenarios: Sequence[Scenario],
                   baseline: str, by: Dimension = "business_unit") -> pl.DataFrame:
    """`engine.costmodels.scenarios.compare` on the latest posted run of `period`, restricted to what `user` may see."""
    if not 1 <= len(scenarios) <= 5:
        raise InputError("compare one to five scenarios")
    run = latest_run(con, period)
    if run is None:
        raise NotFound(f"{period} has no posted allocation run yet: close the month first")
    allocated = load_allocated(con, run)
    scope: list[str] | None = None
    if user.scoped:  # scenarios are applied to the whole run first, so an owner's cents equal the lead's
        scope = [cc for cc, _ in visible_cost_centers(con, user)]
    idle = idle_base(allocated) if any(s.idle_penalty_pct > 0 for s in scenarios) else None
    od = on_demand_uplift(con, period) if _needs_on_demand(scenarios) else None
    out = compare(allocated, scenarios, baseline, by=by, idle=idle, cost_centers=scope, on_demand=od)
    dim = out.columns[1]
    return out.with_columns(pl.col(dim).replace_strict(unit_names(con), default=pl.col(dim)).alias("name"))


def _needs_on_demand(scenarios: Sequence[Scenario]) -> bool:
    return any(s.unused_commitment_policy == "on_demand_equivalent" for s in scenarios)


def unit_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """id → display name for business units, cost centres, applications and the non-org targets."""
    names = {r[0]: r[1] for r in con.execute("SELECT unit_id, name FROM org_unit UNION ALL "
                                             "SELECT app_id, name FROM application").fetchall()}
    return names | SPECIAL_NAMES


def on_demand_uplift(con: duckdb.DuckDBPyConnection, period: str) -> pl.DataFrame:
    """Per cost centre (its lines' direct owner: tag, else account owner): what its commitment-covered usage would
    have cost on demand (ListCost) minus its effective cost — the savings an on-demand-equivalent policy keeps
    centrally. Covered usage with no owner stays central."""
    return frame(con.sql(
        f"""
        WITH lines AS (
            SELECT {LINE_OWNER}, coalesce(l.list_cost, l.effective_cost) - l.effective_cost AS uplift
            FROM cost_line l {LINE_OWNER_JOINS}
            WHERE l.billing_period = ? AND l.commitment_discount_id IS NOT NULL
              AND l.commitment_discount_status = 'Used'
        )
        SELECT cost_center_id AS target_id, sum(uplift) AS uplift FROM lines
        WHERE cost_center_id IS NOT NULL GROUP BY 1 ORDER BY 1
        """,
        params=[period],
    ))


CENTRAL_ITEMS = [("subsidy", "Subsidies"), ("commitment_central", "Commitments kept central"),
                 ("unallocated", "Unallocated line")]


def carried_centrally(compared: pl.DataFrame) -> pl.DataFrame:
    """Where the money the consumers are not charged went, per scenario: subsidies, unused commitment kept by IT
    (net of on-demand savings), and the unallocated line. Charged + these = allocated cost (+ markup, penalty and
    rate variance, which are charged on top)."""
    dim = compared.columns[1]
    rows = []
    for name in dict.fromkeys(compared["scenario"].to_list()):
        part = compared.filter(pl.col("scenario") == name)
        unalloc = part.filter(pl.col(dim) == UNALLOCATED)
        rows.append({
            "scenario": name,
            "charged": Decimal(part.filter(pl.col(dim) != UNALLOCATED)["charge"].sum()),
            "subsidy": Decimal(part["subsidy"].sum()),
            "commitment_central": Decimal(part["commitment_central"].sum()),
            "unallocated": Decimal(unalloc["allocated"].sum()),
            "allocated": Decimal(part["allocated"].sum()),
        })
    money = pl.Decimal(18, 2)
    return pl.DataFrame(rows, schema={"scenario": pl.String, "charged": money, "subsidy": money,
                                      "commitment_central": money, "unallocated": money, "allocated": money},
                        orient="row")


def waterfall(compared: pl.DataFrame, baseline: str, scenario: str) -> pl.DataFrame:
    """Bars from the baseline's total to `scenario`'s: start, one bar per component that moved, end."""
    base_total = compared.filter(pl.col("scenario") == baseline)["charge"].sum()
    rows = compared.filter(pl.col("scenario") == scenario)
    bars: list[tuple[str, Decimal, str]] = [(baseline, Decimal(base_total), "total")]
    for col, label in WATERFALL_STEPS:
        if col in rows.columns:
            v = Decimal(rows[col].sum())
            if v != 0:
                bars.append((label, v, "increase" if v > 0 else "decrease"))
    bars.append((scenario, Decimal(rows["charge"].sum()), "total"))
    start, level = [], Decimal(0)
    for _label, value, kind in bars:
        if kind == "total":
            start.append(Decimal(0))
            level = value
        else:
            start.append(level)
            level += value
    return pl.DataFrame({
        "order": list(range(len(bars))), "label": [b[0] for b in bars], "kind": [b[2] for b in bars],
        "start": [float(s) for s in start],
        "end": [float(s + b[1]) if b[2] != "total" else float(b[1]) for s, b in zip(start, bars, strict=True)],
        "value": [float(b[1]) for b in bars],
    })


__all__ = ["COMPONENTS", "available", "carried_centrally", "compare_period", "on_demand_uplift",
           "posted_periods", "unit_names", "waterfall"]
