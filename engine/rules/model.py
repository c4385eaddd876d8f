"""The rule model: an ordered list of steps, each a source pool, a method, targets and an unallocated policy.

Rule sets are data (JSON/YAML) so they can be versioned, diffed, approved and re-run as of any month. Validation
happens here, once, so the engine can trust a RuleSet: unknown fields, splits that do not add up to 100 %,
references to unknown or earlier steps and direct steps fed by other steps are refused with a message.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.errors import InputError, NotFound
from engine.rules.filters import ASSET_FIELDS, FIELDS, LICENCE_FIELDS, Op, valid_field

TargetKind = Literal["cost_center", "application", "business_unit"]
MethodKind = Literal["direct", "driver", "weighted", "even", "fixed", "allocated"]
FallbackLink = Literal["tag", "application", "account_owner", "cmdb"]
UNALLOCATED = "UNALLOCATED"
STEP_PREFIX = "step:"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _default_fallback() -> list[FallbackLink]:
    """The issue's chain: resource tag → account/subscription owner → CMDB owner (then the unallocated policy)."""
    return ["tag", "account_owner", "cmdb"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Filter(_Strict):
    """One condition on a cost line: `field op value`; see engine/rules/filters.py for fields and operators."""

    field: str
    op: Op = "eq"
    value: str | int | float | list[str | int | float] | None = None

    @model_validator(mode="after")
    def _check(self) -> Filter:
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise InputError(f"operator {self.op} takes no value")
        elif self.value is None:
            raise InputError(f"operator {self.op} needs a value")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise InputError(f"operator {self.op} needs a list value")
        return self


SOURCE_FIELDS: dict[str, frozenset[str]] = {"cost_lines": FIELDS, "assets": ASSET_FIELDS, "licences": LICENCE_FIELDS,
                                             "none": frozenset()}


class Source(_Strict):
    """Where a step's own money comes from: cost lines; the month's depreciation of capitalised assets; licence
    entitlements (seats × monthly unit cost); or `none` (the step only receives what earlier steps send it)."""

    kind: Literal["cost_lines", "assets", "licences", "none"] = "cost_lines"
    filters: list[Filter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Source:
        allowed = SOURCE_FIELDS[self.kind]
        for f in self.filters:
            if not valid_field(f.field, allowed):
                raise InputError(f"unknown filter field {f.field!r} for {self.kind}; allowed: {sorted(allowed)}")
        return self


class Method(_Strict):
    """How a pool is shared. Percentages in `split` are percent (must add up to exactly 100)."""

    kind: MethodKind
    fallback: list[FallbackLink] = Field(default_factory=lambda: _default_fallback())
    driver: str | None = None
    weights: dict[str, float] | None = None
    split: dict[str, Decimal] | None = None
    targets: list[str] | None = None
    from_steps: list[str] | None = None

    @model_validator(mode="after")
    def _check(self) -> Method:
        k = self.kind
        if k == "driver" and not self.driver:
            raise InputError("method driver needs `driver`")
        if k == "weighted":
            if not self.weights:
                raise InputError("method weighted needs `weights` (driver → weight)")
            if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
                raise InputError("weights must be non-negative and not all zero")
        if k == "fixed":
            if not self.split:
                raise InputError("method fixed needs `split` (target → percent)")
            total = sum(self.split.values(), Decimal(0))
            if total != 100:
                raise InputError(f"fixed split must add up to 100 %, got {total}")
        if k == "direct" and not self.fallback:
            raise InputError("method direct needs at least one fallback link")
        return self

    @property
    def driver_label(self) -> str | None:
        """What the result rows show in their `driver` column."""
        if self.kind == "driver":
            return self.driver
        if self.kind == "weighted" and self.weights:
            return ",".join(f"{d}={self.weights[d]:g}" for d in sorted(self.weights))
        if self.kind == "allocated":
            return "allocated:" + (",".join(self.from_steps) if self.from_steps else "all")
        return None


class Step(_Strict):
    id: str
    name: str
    source: Source = Field(default_factory=Source)
    method: Method
    target_kind: TargetKind = "cost_center"
    unallocated: str = "post"
    reciprocal_group: str | None = None
    note: str = ""

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _ID.match(v):
            raise InputError(f"step id {v!r} must be lower_snake_case (a-z, 0-9, _), starting with a letter")
        return v


class RuleSet(_Strict):
    """`mode`: step_down sends cost only forward (shares to earlier pools are dropped and the rest renormalised);
    direct ignores every service-to-service flow. Steps sharing a `reciprocal_group` are solved together."""

    name: str
    description: str = ""
    mode: Literal["step_down", "direct"] = "step_down"
    service_pools: dict[str, str] = Field(default_factory=dict)
    steps: list[Step]

    @model_validator(mode="after")
    def _check(self) -> RuleSet:
        if not self.steps:
            raise InputError("a rule set needs at least one step")
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise InputError(f"duplicate step ids: {ids}")
        pos = {sid: i for i, sid in enumerate(ids)}
        groups: dict[str, list[int]] = {}
        for i, s in enumerate(self.steps):
            if s.reciprocal_group:
                groups.setdefault(s.reciprocal_group, []).append(i)
        for g, members in groups.items():
            if members != list(range(members[0], members[0] + len(members))):
                raise InputError(f"reciprocal group {g!r}: its steps must be consecutive")
            for i in members:
                if self.steps[i].method.kind in ("direct", "allocated"):
                    raise InputError(f"step {self.steps[i].id!r}: {self.steps[i].method.kind} cannot be reciprocal")
        for target, sid in self.service_pools.items():
            if sid not in pos:
                raise InputError(f"service_pools: {target!r} points at unknown step {sid!r}")
        fed: set[str] = set(self.service_pools.values())
        for i, s in enumerate(self.steps):
            refs = [t for t in (s.method.split or {}) if t.startswith(STEP_PREFIX)]
            refs += [t for t in (s.method.targets or []) if t.startswith(STEP_PREFIX)]
            if s.unallocated != "post":
                if not s.unallocated.startswith(STEP_PREFIX):
                    raise InputError(f"step {s.id!r}: unallocated must be 'post' or 'step:<id>'")
                refs.append(s.unallocated)
                if pos.get(s.unallocated[len(STEP_PREFIX):], -1) <= i:
                    raise InputError(f"step {s.id!r}: unallocated must go to a later step")
            for r in refs:
                sid = r[len(STEP_PREFIX):]
                if sid not in pos:
                    raise InputError(f"step {s.id!r}: unknown target {r!r}")
                fed.add(sid)
            for f in s.method.from_steps or []:
                if pos.get(f, len(ids)) >= i:
                    raise InputError(f"step {s.id!r}: from_steps must name earlier steps, not {f!r}")
            if s.method.kind == "direct" and s.target_kind == "business_unit":
                raise InputError(f"step {s.id!r}: direct allocation targets cost centres or applications")
            if s.method.kind == "direct" and s.source.kind == "licences" and s.target_kind != "cost_center":
                raise InputError(f"step {s.id!r}: licence seats are held by cost centres")
        for s in self.steps:
            if s.method.kind == "direct" and s.id in fed:
                raise InputError(f"step {s.id!r}: a direct step attributes its own lines and cannot receive cost")
            if s.source.kind == "none" and s.id not in fed:
                raise InputError(f"step {s.id!r}: has no source and no step sends it anything")
        return self

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise NotFound(step_id)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def body_json(self) -> str:
        """Canonical JSON: the same rules always give the same text, hence the same hash and run key."""
        return json.dumps(self.body(), sort_keys=True, separators=(",", ":"))

    def body_hash(self) -> str:
        return hashlib.sha256(self.body_json().encode()).hexdigest()

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.model_dump(mode="json", exclude_defaults=True), sort_keys=False))


def from_data(data: Any) -> RuleSet:
    return RuleSet.model_validate(data)


def from_text(text: str) -> RuleSet:
    """YAML or JSON (JSON is YAML)."""
    return RuleSet.model_validate(yaml.safe_load(text))


def load(path: str | Path) -> RuleSet:
    return from_text(Path(path).read_text())
