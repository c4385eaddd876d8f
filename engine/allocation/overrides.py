"""Workshop parameters applied to a rule set: driver switches, driver weights and fixed splits per step.

The what-if path and the line-level run share this function, so a scenario agreed in the room and then run at
month close (as `params`) gives the same numbers.

- `drivers`: step id → (driver, target kind). Only a `driver` step can switch; a driver counted for another target
  kind (headcount is per cost centre, bandwidth per application) moves the step to that kind, and the step's
  `targets` restriction, written for the old kind, is dropped. Whether the period holds the driver is checked
  where the data is (`whatif.driver_choices`).
- `weights`: step id → driver → weight, for `weighted` steps (non-negative, not all zero).
- `splits`: step id → target → percent, for `fixed` steps: the step's own targets only, each 0–100, exactly 100.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, get_args

from pydantic import ValidationError

from engine.errors import InputError, invalid
from engine.rules.model import RuleSet, TargetKind

TARGET_KINDS: tuple[str, ...] = get_args(TargetKind)
DriverSwitch = tuple[str, str]   # (driver, target kind)


def _percent(sid: str, target: str, value: float | Decimal | str) -> Decimal:
    try:
        pct = Decimal(str(value))
    except InvalidOperation as exc:
        raise InputError(f"step {sid!r}: split for {target!r} is not a number: {value!r}") from exc
    if not pct.is_finite() or pct < 0 or pct > 100:
        raise InputError(f"step {sid!r}: split for {target!r} must be between 0 and 100 %, got {value}")
    return pct


def check_split(sid: str, current: Mapping[str, Decimal], split: Mapping[str, float | Decimal | str]
                ) -> dict[str, Decimal]:
    """A fixed split the room may set: the step's own targets (none added, none dropped), adding up to 100 %."""
    unknown = sorted(set(split) - set(current))
    if unknown:
        raise InputError(f"step {sid!r}: the split may only share among its own targets; unknown {unknown}")
    out = {t: _percent(sid, t, split.get(t, 0)) for t in current}
    total = sum(out.values(), Decimal(0))
    if total != 100:
        raise InputError(f"step {sid!r}: a fixed split must add up to 100 %, got {total}")
    return out


def apply(rs: RuleSet, weights: Mapping[str, Mapping[str, float]] | None = None,
          splits: Mapping[str, Mapping[str, float | Decimal | str]] | None = None,
          drivers: Mapping[str, DriverSwitch] | None = None) -> RuleSet:
    """A validated copy of `rs` with switched drivers, new weights and new splits."""
    if not weights and not splits and not drivers:
        return rs
    body: dict[str, Any] = rs.body()
    known = {s["id"] for s in body["steps"]}
    for sid in list(weights or {}) + list(splits or {}) + list(drivers or {}):
        if sid not in known:
            raise InputError(f"no step {sid!r} in rule set {rs.name!r}")
    for s in body["steps"]:
        kind = s["method"]["kind"]
        if drivers and s["id"] in drivers:
            driver, target_kind = drivers[s["id"]]
            if kind != "driver":
                raise InputError(f"step {s['id']!r} is {kind}, not driver: it has no driver to switch")
            if not driver:
                raise InputError(f"step {s['id']!r}: name the driver to switch to")
            if target_kind not in TARGET_KINDS:
                raise InputError(f"step {s['id']!r}: target kind must be one of {TARGET_KINDS}, not {target_kind!r}")
            if target_kind != s["target_kind"]:
                s["target_kind"] = target_kind
                s["method"]["targets"] = None   # written for the old kind's ids
            s["method"]["driver"] = driver
        if weights and s["id"] in weights:
            if kind != "weighted":
                raise InputError(f"step {s['id']!r} is {kind}, not weighted: it has no weights")
            s["method"]["weights"] = {d: float(w) for d, w in weights[s["id"]].items()}
        if splits and s["id"] in splits:
            if kind != "fixed":
                raise InputError(f"step {s['id']!r} is {kind}, not fixed: it has no split")
            current = rs.step(s["id"]).method.split or {}
            s["method"]["split"] = {t: str(p) for t, p in check_split(s["id"], current, splits[s["id"]]).items()}
    try:
        return RuleSet.model_validate(body)
    except ValidationError as exc:
        raise invalid(f"The changed rule set {rs.name!r}", exc) from exc


def from_params(rs: RuleSet, params: Mapping[str, Any] | None) -> RuleSet:
    """`params` as stored with a run: {"weights": …, "splits": …, "drivers": {step: [driver, target kind]}}."""
    params = params or {}
    drivers = {sid: (str(d[0]), str(d[1])) for sid, d in (params.get("drivers") or {}).items()}
    return apply(rs, params.get("weights"), params.get("splits"), drivers or None)
