"""What the FinOps lead decides about a rule set's pools: in the model or not, critical or not, who owns each, on
what basis it is shared and at what granularity, and the materiality threshold below which pools go to overhead.

A `Scope` is data, like a rule set: validated here once, stored as versions (engine/scope/versions.py) and applied
to the rule set the month close and the workshop evaluate (engine/scope/transform.py).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.errors import InputError, invalid

Basis = Literal["rules", "direct_usage", "headcount", "revenue", "strategic"]
Granularity = Literal["user", "cost_center", "application"]
CENTRAL_IT = "central_it"
OVERHEAD_STEP = "general_overhead"

BASIS_GUIDE: dict[str, str] = {
    "rules": "Keep the method the approved rule set gives the pool (no change).",
    "direct_usage": "Charge what each consumer metered (a usage driver such as cpu_hours or storage_gb_month). "
                    "Fairest where metering covers the consumers; check the granularity below.",
    "headcount": "Share by people per cost centre. For services everyone uses about equally (service desk, "
                 "collaboration, identity).",
    "revenue": "Share by revenue per cost centre. For enterprise capabilities whose value follows the business "
               "(ERP, finance platforms).",
    "strategic": "A split leadership agrees (percent per cost centre), or evenly over cost centres when none is "
                 "given. For investments nobody consumes yet (innovation, security posture).",
}
GRANULARITY_LABELS: dict[str, str] = {"user": "per user", "cost_center": "per department (cost centre)",
                                      "application": "per application"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoolScope(_Strict):
    """One pool (a rule set step) as the scope sees it."""

    in_model: bool = True                     # False: the pool is not modelled on its own and goes to overhead
    critical: bool = False                    # a critical pool stays modelled however small it is
    owner: str = CENTRAL_IT                   # central_it, or the business unit that carries it and owns its rules
    basis: Basis = "rules"
    usage_driver: str | None = None           # direct_usage: the metered driver (else the rule set's own)
    split: dict[str, Decimal] | None = None   # strategic: cost centre → percent, adding up to 100
    granularity: Granularity | None = None    # None: the step's own target kind
    min_coverage_pct: Decimal = Field(Decimal(80), ge=0, le=100)

    @model_validator(mode="after")
    def _check(self) -> PoolScope:
        if self.split is not None:
            if self.basis != "strategic":
                raise InputError("a split is only used by the strategic basis")
            total = sum(self.split.values(), Decimal(0))
            if total != 100 or any(v < 0 for v in self.split.values()):
                raise InputError(f"a strategic split must be non-negative and add up to 100 %, got {total}")
        if self.usage_driver is not None and self.basis != "direct_usage":
            raise InputError("a usage driver is only used by the direct usage basis")
        return self


class Scope(_Strict):
    """`threshold_pct`: pools whose share of the month's total is below it (and that are not critical) are shared
    as one general overhead pool by `overhead_driver` over cost centres. 0 moves nothing."""

    threshold_pct: Decimal = Field(Decimal(0), ge=0, le=100)
    overhead_driver: str = Field("headcount", min_length=1, max_length=64)
    pools: dict[str, PoolScope] = Field(default_factory=dict)
    critical_classes: list[str] = Field(default_factory=list)   # asset classes flagged critical (laptop, server…)

    def pool(self, step_id: str) -> PoolScope:
        return self.pools.get(step_id, PoolScope())

    def body_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.body_json().encode()).hexdigest()

    def with_pool(self, step_id: str, pool: PoolScope) -> Scope:
        return self.model_copy(update={"pools": {**self.pools, step_id: pool}})


def parse(data: object, what: str = "The scope") -> Scope:
    try:
        return Scope.model_validate(data)
    except ValidationError as exc:
        raise invalid(what, exc) from exc


def pool_from(data: dict[str, object], what: str = "The pool's scope") -> PoolScope:
    try:
        return PoolScope.model_validate(data)
    except ValidationError as exc:
        raise invalid(what, exc) from exc
