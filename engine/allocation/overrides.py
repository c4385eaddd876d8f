"""Workshop parameters applied to a rule set: driver weights and fixed splits per step.

The what-if path and the line-level run share this function, so a scenario agreed in the room and then run at
month close (as `params`) gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from engine.errors import InputError
from engine.rules.model import RuleSet


def apply(rs: RuleSet, weights: Mapping[str, Mapping[str, float]] | None = None,
          splits: Mapping[str, Mapping[str, float | Decimal | str]] | None = None) -> RuleSet:
    """A validated copy of `rs` with new weights (step id → driver → weight) and splits (step id → target → %)."""
    if not weights and not splits:
        return rs
    body: dict[str, Any] = rs.body()
    known = {s["id"] for s in body["steps"]}
    for sid in list(weights or {}) + list(splits or {}):
        if sid not in known:
            raise InputError(f"no step {sid!r} in rule set {rs.name!r}")
    for s in body["steps"]:
        if weights and s["id"] in weights:
            if s["method"]["kind"] != "weighted":
                raise InputError(f"step {s['id']!r} is {s['method']['kind']}, not weighted: it has no weights")
            s["method"]["weights"] = {d: float(w) for d, w in weights[s["id"]].items()}
        if splits and s["id"] in splits:
            if s["method"]["kind"] != "fixed":
                raise InputError(f"step {s['id']!r} is {s['method']['kind']}, not fixed: it has no split")
            s["method"]["split"] = {t: str(p) for t, p in splits[s["id"]].items()}
    return RuleSet.model_validate(body)


def from_params(rs: RuleSet, params: Mapping[str, Any] | None) -> RuleSet:
    params = params or {}
    return apply(rs, params.get("weights"), params.get("splits"))
