"""The allocation workshop: driver switches, weights, fixed splits and cost-model parameters → charges per business
unit / cost centre, against a baseline, in milliseconds (it evaluates pre-aggregated pools from
engine.allocation.whatif).

Idle penalty base: the part of each target's allocation that comes from the unused-commitment pools (capacity that
was reserved and paid for but not used), so a penalty % charges the consumers who drive idle reservations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import polars as pl
from pydantic import ValidationError

from engine.allocation import whatif
from engine.allocation.cascade import UNALLOCATED_KIND
from engine.allocation.overrides import DriverSwitch
from engine.costmodels.commitments import UnusedPolicy
from engine.costmodels.scenarios import (
    DIMENSION_COLUMN,
    Dimension,
    Model,
    Scenario,
    Subsidy,
    apply_scenario,
    with_business_units,
)
from engine.errors import InputError, invalid

UNUSED_COMMITMENT_POOLS = ("unused_commitments",)
MONEY = pl.Decimal(18, 2)


@dataclass(frozen=True)
class WorkshopParams:
    """Everything a slider can move. Percentages are 0–100."""

    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    drivers: Mapping[str, DriverSwitch] = field(default_factory=dict)          # step → (driver, target kind)
    splits: Mapping[str, Mapping[str, float | Decimal]] = field(default_factory=dict)   # fixed step → target → %
    chargeback: bool = True
    subsidy_pct: float = 0.0
    subsidy_pools: tuple[str, ...] = ()
    pool_subsidies: Mapping[str, float] = field(default_factory=dict)      # pool → its own subsidised share %
    markup_pct: float = 0.0
    idle_penalty_pct: float = 0.0
    unused_policy: UnusedPolicy | None = None

    def scenario(self, name: str = "Workshop") -> Scenario:
        pct = Decimal(str(round(self.subsidy_pct, 4)))
        own = {p: Decimal(str(round(v, 4))) for p, v in sorted(self.pool_subsidies.items()) if v > 0}
        shared = [p for p in self.subsidy_pools if p not in own]   # a pool's own share wins over the common one
        subsidies = ([Subsidy(column="source_pool", values=[p], pct=v) for p, v in own.items()]
                     + ([Subsidy(column="source_pool", values=shared, pct=pct)] if shared and pct > 0 else [])
                     if self.chargeback else [])
        markup = Decimal(str(round(self.markup_pct, 4))) if self.chargeback else Decimal(0)
        model: Model = ("showback" if not self.chargeback else "subsidised" if subsidies
                 else "markup" if markup > 0 else "full_recovery")
        return Scenario(
            name=name, model=model, subsidies=subsidies, markup_pct=markup,
            idle_penalty_pct=Decimal(str(round(self.idle_penalty_pct, 4))) if self.chargeback else Decimal(0),
            unused_commitment_policy=self.unused_policy if self.chargeback else None,
            unused_commitment_pools=list(UNUSED_COMMITMENT_POOLS) if self.chargeback and self.unused_policy else [],
        )


def allocated_rows(prepared: whatif.Prepared, weights: Mapping[str, Mapping[str, float]] | None,
                   splits: Mapping[str, Mapping[str, float | Decimal]] | None = None,
                   drivers: Mapping[str, DriverSwitch] | None = None) -> pl.DataFrame:
    """What-if posted rows in the shape of allocation_result (+ business_unit_id), for the cost models."""
    rows = whatif.evaluate_rows(prepared, weights or None, splits or None, drivers or None)  # type: ignore[arg-type]
    org = prepared.data.org
    kinds, targets = rows["target_kind"].to_list(), rows["target_id"].to_list()
    shaped = rows.with_columns(
        pl.Series("cost_center_id", [None if k == UNALLOCATED_KIND else org.cost_center_of(k, t)
                                     for k, t in zip(kinds, targets, strict=True)], dtype=pl.String),
        pl.Series("app_id", [t if k == "application" else None for k, t in zip(kinds, targets, strict=True)],
                  dtype=pl.String),
        pl.col("amount").alias("posted_amount"),
    )
    parents = pl.DataFrame({"unit_id": list(org.parent), "parent_id": list(org.parent.values())},
                           schema={"unit_id": pl.String, "parent_id": pl.String})
    return with_business_units(shaped, parents)


def idle_base(allocated: pl.DataFrame, pools: tuple[str, ...] = UNUSED_COMMITMENT_POOLS) -> pl.DataFrame:
    return (allocated.filter(pl.col("source_pool").is_in(list(pools)) & (pl.col("target_kind") != UNALLOCATED_KIND))
            .group_by("target_id").agg(pl.col("posted_amount").sum().alias("idle_cost"))
            .filter(pl.col("idle_cost") > 0))


def charges(prepared: whatif.Prepared, params: WorkshopParams, by: Dimension = "business_unit",
            on_demand: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per business unit (or cost centre / application): allocated cost, charge and its components. An
    on-demand-equivalent policy needs `on_demand` (engine.insights.comparison.on_demand_uplift of the period)."""
    allocated = allocated_rows(prepared, params.weights, params.splits, params.drivers)
    scenario = params.scenario()
    idle = idle_base(allocated) if scenario.idle_penalty_pct > 0 else None
    applied = apply_scenario(allocated, scenario, idle=idle,
                             on_demand=on_demand if scenario.unused_commitment_policy == "on_demand_equivalent"
                             else None)
    dim = DIMENSION_COLUMN[by]
    money = ["allocated", "direct", "shared", "subsidy", "markup", "penalty", "commitment_central", "charge"]
    return (applied.with_columns(pl.col(dim).fill_null("UNASSIGNED"))
            .group_by(dim).agg(pl.col(c).sum() for c in money)
            .rename({dim: "unit"}).sort("unit"))


def versus_baseline(prepared: whatif.Prepared, params: WorkshopParams, baseline: WorkshopParams,
                    by: Dimension = "business_unit") -> pl.DataFrame:
    """Charges under `params` beside the baseline's, with the delta: who wins and who loses."""
    return against(charges(prepared, params, by), charges(prepared, baseline, by))


def against(now: pl.DataFrame, baseline: pl.DataFrame) -> pl.DataFrame:
    """Join two `charges` frames: charge, baseline and delta per unit (the baseline is usually cached)."""
    base = baseline.select("unit", pl.col("charge").alias("baseline"))
    return (now.join(base, on="unit", how="full", coalesce=True)
            .with_columns(pl.col("charge").fill_null(Decimal(0)), pl.col("baseline").fill_null(Decimal(0)))
            .with_columns((pl.col("charge") - pl.col("baseline")).alias("delta"))
            .with_columns(pl.col(c).cast(MONEY) for c in ("charge", "baseline", "delta"))
            .sort("unit"))


def baseline_params(prepared: whatif.Prepared) -> WorkshopParams:
    """The rule set's own drivers, weights and splits, charged at full recovery: what the room compares against."""
    return WorkshopParams(weights=prepared.weighted_steps, chargeback=True)


def changed_drivers(prepared: whatif.Prepared, params: WorkshopParams) -> dict[str, DriverSwitch]:
    """The driver switches that differ from the approved rule set (what a draft changes)."""
    current = prepared.driver_steps
    return {sid: (d, k) for sid, (d, k) in params.drivers.items() if current.get(sid) != (d, k)}


def pools(prepared: whatif.Prepared) -> list[str]:
    """Source pools a subsidy can name: the rule set's step ids."""
    return [s.id for s in prepared.rule_set.steps]


def unit_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """id → display name for business units and cost centres (the unallocated line keeps its id)."""
    return {r[0]: r[1] for r in con.execute("SELECT unit_id, name FROM org_unit").fetchall()}


def save_draft(con: duckdb.DuckDBPyConnection, prepared: whatif.Prepared, params: WorkshopParams, author: str,
               reason: str, scenario_name: str, effective_from: str | None = None) -> tuple[str, int, Scenario]:
    """Hand the room's agreement to the approval workflow: the weights become a new rule version (submitted,
    so immutable and waiting for an approver who is not the author) and the cost model a saved scenario."""
    from engine.allocation import overrides
    from engine.costmodels.scenarios import save_scenario
    from engine.rules import versions

    if not reason.strip():
        raise InputError("a draft rule version needs a reason: approvers and auditors read it")
    try:  # both are validated before anything is written
        new_rs = overrides.apply(prepared.unscoped or prepared.rule_set, params.weights or None,  # not the scope
                                 params.splits or None, changed_drivers(prepared, params) or None)
        draft_scenario = params.scenario(scenario_name)
    except ValidationError as exc:
        raise invalid("The workshop's draft", exc) from exc
    v = versions.create_draft(con, new_rs, author, reason.strip(), effective_from,
                              parent_version=prepared.rule_version or None)
    versions.submit(con, new_rs.name, v, author)
    scenario = save_scenario(con, draft_scenario, author)
    return new_rs.name, v, scenario
