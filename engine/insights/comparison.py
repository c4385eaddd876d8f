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
    Dimension,
    Scenario,
    compare,
    list_scenarios,
    load_allocated,
    load_scenario,
)
from engine.errors import InputError, NotFound
from engine.insights.workshop import idle_base

WATERFALL_STEPS = [("delta_subsidy", "Subsidy"), ("delta_commitment_central", "Commitment kept central"),
                   ("delta_markup", "Markup"), ("delta_penalty", "Idle penalty"), ("delta_rate_variance", "Rate card")]


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
    out = compare(allocated, scenarios, baseline, by=by, idle=idle, cost_centers=scope)
    names = {r[0]: r[1] for r in con.execute("SELECT unit_id, name FROM org_unit").fetchall()}
    dim = out.columns[1]
    return out.with_columns(pl.col(dim).replace_strict(names, default=pl.col(dim)).alias("name"))


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


__all__ = ["COMPONENTS", "available", "compare_period", "posted_periods", "waterfall"]
