"""What-if: the month's rules evaluated on pre-aggregated pools, so a slider move costs milliseconds.

`prepare` runs the one heavy query (period × pool × link × target sums, driver quantities, org) and keeps the
result; `evaluate` re-runs only the cascade and the posting with new weights or splits. Because both paths
use the same pool data, cascade and posting, the what-if totals equal a line-level run of the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from engine.allocation import overrides
from engine.allocation.cascade import run_cascade
from engine.allocation.pools import Basis, PoolData, load_pools
from engine.allocation.posting import Posted, post
from engine.allocation.rollup import MONEY, by_cost_center
from engine.errors import InputError
from engine.rules.model import RuleSet
from engine.scope import transform as scope_transform


@dataclass(frozen=True)
class Prepared:
    rule_set: RuleSet
    rule_version: int
    data: PoolData
    unscoped: RuleSet | None = None   # the approved rule set when the scope (engine/scope) rewrote it

    @property
    def weighted_steps(self) -> dict[str, dict[str, float]]:
        """Current weights per weighted step: what the workshop sliders start from."""
        return {s.id: dict(s.method.weights or {}) for s in self.rule_set.steps if s.method.kind == "weighted"}

    @property
    def driver_steps(self) -> dict[str, overrides.DriverSwitch]:
        """Current (driver, target kind) per driver step: what the workshop's driver selects start from."""
        return {s.id: (s.method.driver or "", s.target_kind) for s in self.rule_set.steps if s.method.kind == "driver"}

    @property
    def fixed_steps(self) -> dict[str, dict[str, Decimal]]:
        """Current split (target → percent) per fixed step: what the split sliders start from."""
        return {s.id: dict(s.method.split or {}) for s in self.rule_set.steps if s.method.kind == "fixed"}

    def driver_choices(self) -> dict[str, list[str]]:
        """Drivers loaded for the period, per target kind, that have a positive quantity somewhere."""
        out: dict[str, list[str]] = {}
        for (driver, kind), per_target in sorted(self.data.drivers.items()):
            if any(q > 0 for q in per_target.values()):
                out.setdefault(kind, []).append(driver)
        return out


def prepare(con: duckdb.DuckDBPyConnection, period: str, rule_set: str | Path | RuleSet,
            version: int | None = None, basis: Basis = "effective") -> Prepared:
    from engine.allocation.runs import resolve_rule_set

    rs, ver = resolve_rule_set(con, rule_set, period, version)
    data = load_pools(con, rs, period, basis)
    scoped, digest = scope_transform.scoped(con, rs, data)   # the same rewrite month close applies
    return Prepared(scoped, ver, data, rs if digest else None)


def _check_drivers(prepared: Prepared, drivers: Mapping[str, overrides.DriverSwitch] | None) -> None:
    choices = prepared.driver_choices()
    for sid, (driver, kind) in (drivers or {}).items():
        if driver not in choices.get(kind, []):
            raise InputError(f"step {sid!r}: no {driver!r} quantities per {kind.replace('_', ' ')} are loaded for "
                             f"{prepared.data.period}")


def _posted(prepared: Prepared, weights: Mapping[str, Mapping[str, float]] | None,
            splits: Mapping[str, Mapping[str, float]] | None,
            drivers: Mapping[str, overrides.DriverSwitch] | None = None) -> list[Posted]:
    _check_drivers(prepared, drivers)
    rs = overrides.apply(prepared.rule_set, weights, splits, drivers)
    return post(run_cascade(rs, prepared.data), prepared.data.pool_totals)


def evaluate(prepared: Prepared, weights: Mapping[str, Mapping[str, float]] | None = None,
             splits: Mapping[str, Mapping[str, float]] | None = None,
             drivers: Mapping[str, overrides.DriverSwitch] | None = None) -> pl.DataFrame:
    """Per target: cost_center_id, business_unit_id, amount (cents, Decimal). Includes the UNALLOCATED line."""
    posted = _posted(prepared, weights, splits, drivers)
    return by_cost_center(((p.key.target_kind, p.key.target_id, p.cents) for p in posted), prepared.data.org)


def evaluate_rows(prepared: Prepared, weights: Mapping[str, Mapping[str, float]] | None = None,
                  splits: Mapping[str, Mapping[str, float]] | None = None,
                  drivers: Mapping[str, overrides.DriverSwitch] | None = None) -> pl.DataFrame:
    """Every posted row with its step, source pool, method and driver: the explanation behind `evaluate`."""
    posted = _posted(prepared, weights, splits, drivers)
    return pl.DataFrame(
        {
            "step": [p.key.step for p in posted],
            "step_name": [p.key.step_name for p in posted],
            "source_pool": [p.key.source_pool for p in posted],
            "method": [p.key.method for p in posted],
            "driver": [p.key.driver for p in posted],
            "target_kind": [p.key.target_kind for p in posted],
            "target_id": [p.key.target_id for p in posted],
            "amount": [p.cents / 100 for p in posted],
        },
    ).with_columns(pl.col("amount").cast(MONEY))
