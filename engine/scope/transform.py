"""The scope applied to a rule set: one rewrite of the rule set, done in one place, that month close
(engine/allocation/runs.py) and the workshop (engine/allocation/whatif.py) both call right after loading the pools.

- **Basis per pool** replaces the step's method: headcount or revenue → that driver over cost centres; strategic →
  the agreed split (fixed) or evenly over cost centres; direct usage with a usage driver → that driver at the
  chosen granularity; `rules` (the default) leaves the step as approved.
- **Materiality**: a pool whose share of the month's total (|pool| ÷ Σ|pools|) is below the threshold and that is
  not critical, or a pool taken out of the model, sends 100 % of its cost to one `general_overhead` step, added at
  the end and shared by the overhead driver over cost centres. The money keeps its source pool, so the month close's
  conservation check (per source pool, to the cent) holds as before.

Only the steps' methods and targets change, never their sources or filters, so the pool totals loaded for the
approved rule set are the pool totals of the scoped one: nothing is queried twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb

from engine.allocation.pools import PoolData
from engine.rules.model import STEP_PREFIX, RuleSet
from engine.scope import versions
from engine.scope.model import OVERHEAD_STEP, PoolScope, Scope

OVERHEAD_NAME = "General IT overhead (below materiality or outside the model)"


@dataclass(frozen=True)
class PoolShare:
    step_id: str
    name: str
    spend: Decimal
    share_pct: Decimal          # of the month's total, by absolute value
    to_overhead: bool
    reason: str                 # why it moves ("below 2 %", "outside the model") or ""


def shares(rs: RuleSet, scope: Scope, data: PoolData) -> list[PoolShare]:
    """Every pool with money of its own this month (steps fed only by other steps have none), with its share and
    whether the scope sends it to overhead."""
    total = sum((abs(v) for v in data.pool_totals.values()), Decimal(0))
    out: list[PoolShare] = []
    for s in rs.steps:
        if s.source.kind == "none" or s.id == OVERHEAD_STEP:
            continue
        spend = data.pool_totals.get(s.id, Decimal(0))
        share = (abs(spend) * 100 / total) if total else Decimal(0)
        p = scope.pool(s.id)
        reason = ""
        if not p.in_model:
            reason = "outside the model"
        elif not p.critical and share < scope.threshold_pct and spend != 0:
            reason = f"below the {scope.threshold_pct:g} % materiality threshold"
        out.append(PoolShare(s.id, s.name, spend, share, bool(reason), reason))
    return out


def _method(step: dict[str, Any], p: PoolScope) -> None:
    """Rewrite one step body's method and target kind for its basis (in place)."""
    if p.basis in ("headcount", "revenue"):
        step["method"] = {"kind": "driver", "driver": p.basis}
        step["target_kind"] = "cost_center"
    elif p.basis == "strategic":
        step["method"] = ({"kind": "fixed", "split": {k: str(v) for k, v in (p.split or {}).items()}} if p.split
                          else {"kind": "even"})
        step["target_kind"] = "cost_center"
    elif p.basis == "direct_usage" and p.usage_driver:
        step["method"] = {"kind": "driver", "driver": p.usage_driver}
        if p.granularity in ("cost_center", "application"):
            step["target_kind"] = p.granularity


def apply(rs: RuleSet, scope: Scope, data: PoolData) -> RuleSet:
    """The rule set the month is allocated with under `scope` (validated like any rule set)."""
    body: dict[str, Any] = rs.body()
    moving = {s.step_id for s in shares(rs, scope, data) if s.to_overhead}
    for step in body["steps"]:
        if step["id"] == OVERHEAD_STEP:
            continue
        _method(step, scope.pool(step["id"]))
        if step["id"] in moving:
            step["method"] = {"kind": "fixed", "split": {STEP_PREFIX + OVERHEAD_STEP: "100"}}
    has_overhead = any(s["id"] == OVERHEAD_STEP for s in body["steps"])
    if moving and not has_overhead:
        body["steps"].append({
            "id": OVERHEAD_STEP, "name": OVERHEAD_NAME, "source": {"kind": "none"},
            "method": {"kind": "driver", "driver": scope.overhead_driver}, "target_kind": "cost_center",
            "note": "Pools below the materiality threshold or outside the model (engine/scope).",
        })
    new = RuleSet.model_validate(body)
    return rs if new.body_hash() == rs.body_hash() else new


def scoped(con: duckdb.DuckDBPyConnection, rs: RuleSet, data: PoolData) -> tuple[RuleSet, str | None]:
    """The hook: `rs` under the scope in force for the month, and the scope's digest when it changed anything
    (month close adds it to the run key; None keeps a run exactly as without a scope)."""
    sv = versions.as_of(con, rs.name, data.period)
    if sv is None:
        return rs, None
    new = apply(rs, sv.scope, data)
    return (rs, None) if new is rs else (new, sv.scope.digest())
