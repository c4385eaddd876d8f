"""Idle and under-use: a penalty on reserved-but-idle capacity and an incentive for high utilisation.

Capacity someone reserved and left idle (a storage quota, a cluster namespace request, a reservation) costs the
organisation money even though no usage driver records it. A penalty makes the holder see it; an incentive rewards
the teams that run hot. Both are separate lines, never folded into the allocated cost, so an auditor can tell the
cost from the nudge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from engine.costmodels.pricing import to_cents
from engine.errors import InputError

HUNDRED = Decimal(100)


class IdlePolicy(BaseModel):
    """Per-driver parameters; a policy with both percentages at zero changes nothing."""

    model_config = ConfigDict(frozen=True)

    penalty_pct: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    incentive_pct: Decimal = Field(default=Decimal(0), ge=0, le=100)
    incentive_threshold: Decimal = Field(default=Decimal("0.85"), ge=0, le=1)


@dataclass(frozen=True)
class Reservation:
    """What a target reserved of a capacity driver, what it used, and the unit rate of that capacity."""

    driver: str
    target_id: str
    reserved: Decimal
    used: Decimal
    unit_rate: Decimal


@dataclass(frozen=True)
class IdleLine:
    driver: str
    target_id: str
    utilisation: Decimal
    idle_units: Decimal
    idle_cost: Decimal
    penalty: Decimal
    incentive: Decimal


def idle_adjustments(reservations: Sequence[Reservation], policies: dict[str, IdlePolicy],
                     default: IdlePolicy | None = None) -> list[IdleLine]:
    """One line per driver and target: idle cost, penalty (charge) and incentive (credit, negative), in cents.

    Usage above the reservation is not idle and earns no extra incentive beyond full utilisation.
    """
    base = default or IdlePolicy()
    out: list[IdleLine] = []
    for r in reservations:
        if r.reserved < 0 or r.used < 0 or r.unit_rate < 0:
            raise InputError(f"{r.driver}/{r.target_id}: quantities and rate must be non-negative")
        policy = policies.get(r.driver, base)
        util = min(r.used / r.reserved, Decimal(1)) if r.reserved else Decimal(0)
        idle_units = max(r.reserved - r.used, Decimal(0))
        idle_cost = to_cents(idle_units * r.unit_rate)
        penalty = to_cents(idle_units * r.unit_rate * policy.penalty_pct / HUNDRED)
        incentive = Decimal("0.00")
        if r.reserved and util >= policy.incentive_threshold and policy.incentive_pct:
            incentive = -to_cents(min(r.used, r.reserved) * r.unit_rate * policy.incentive_pct / HUNDRED)
        out.append(IdleLine(r.driver, r.target_id, util, idle_units, idle_cost, penalty, incentive))
    return out


IDLE_SCHEMA = pl.Schema({
    "driver": pl.String(),
    "target_id": pl.String(),
    "utilisation": pl.Float64(),
    "idle_units": pl.Decimal(38, 6),
    "idle_cost": pl.Decimal(18, 2),
    "penalty": pl.Decimal(18, 2),
    "incentive": pl.Decimal(18, 2),
})


def idle_frame(lines: Sequence[IdleLine]) -> pl.DataFrame:
    """The lines as a frame for scenarios and statements (utilisation as a float: it is a ratio, not money)."""
    return pl.DataFrame(
        [
            {"driver": ln.driver, "target_id": ln.target_id, "utilisation": float(ln.utilisation),
             "idle_units": ln.idle_units, "idle_cost": ln.idle_cost, "penalty": ln.penalty,
             "incentive": ln.incentive}
            for ln in lines
        ],
        schema=IDLE_SCHEMA,
        orient="row",
    )


def idle_cost_by_target(lines: Sequence[IdleLine]) -> dict[str, Decimal]:
    """Idle cost summed per target across drivers: the base a scenario's idle penalty % applies to."""
    out: dict[str, Decimal] = {}
    for ln in lines:
        out[ln.target_id] = out.get(ln.target_id, Decimal(0)) + ln.idle_cost
    return out
