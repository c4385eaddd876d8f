"""Readable differences between two versions of a rule set: sentences a finance approver can check, built from the
RuleSet model (steps matched by id), never from a text diff of the JSON body.

    step 4 'Shared Kubernetes platform' driver changed from cpu_hours to memory_gb_hours
    step 5 'IT service desk and architecture' weight of headcount 0.6 → 0.5
    exception EX-LB-01 added: resource_id = lb-1, fixed split CC001 60 %, CC002 40 %
    effective_from 2026-07 → 2026-11

Steps are numbered by their position in the new version (removed steps by their position in the old one). The same
describers (`describe_method`, `describe_filter`, `describe_treatment`) write the methodology
(engine/outputs/methodology.py), so a step reads the same in a diff and in the document.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from engine.rules.model import Filter, Method, RuleSet, Step

_OPS = {"eq": "=", "ne": "≠", "in": "in", "not_in": "not in", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
        "starts_with": "starts with", "contains": "contains"}


class ExceptionLike(Protocol):
    """What a diff reads of an exception (engine/allocation/pools.py: PooledException has these)."""

    @property
    def exception_id(self) -> str: ...
    @property
    def match_field(self) -> str: ...
    @property
    def match_value(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def treatment(self) -> object: ...


def _num(value: float | Decimal) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return f"{value:g}"


def _value(value: object) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return str(value)


def describe_filter(f: Filter) -> str:
    if f.op == "is_null":
        return f"{f.field} is empty"
    if f.op == "not_null":
        return f"{f.field} is set"
    return f"{f.field} {_OPS.get(f.op, f.op)} {_value(f.value)}"


def describe_filters(filters: Sequence[Filter]) -> str:
    return " and ".join(describe_filter(f) for f in filters) if filters else "every remaining line"


def _weights(w: Mapping[str, float] | None) -> str:
    w = w or {}
    return ", ".join(f"{d} {_num(w[d])}" for d in sorted(w))


def _split(s: Mapping[str, Decimal] | None) -> str:
    s = s or {}
    return ", ".join(f"{t} {_num(s[t])} %" for t in sorted(s))


def describe_method(m: Method) -> str:
    """One phrase per method, e.g. "driver cpu_hours", "weighted headcount 0.6, revenue 0.4"."""
    targets = f" over {', '.join(m.targets)}" if m.targets else ""
    if m.kind == "driver":
        return f"driver {m.driver}{targets}"
    if m.kind == "weighted":
        return f"weighted {_weights(m.weights)}{targets}"
    if m.kind == "fixed":
        return f"fixed split {_split(m.split)}"
    if m.kind == "direct":
        return "direct via " + " → ".join(m.fallback)
    if m.kind == "even":
        return f"even{targets}"
    froms = ", ".join(m.from_steps) if m.from_steps else "all earlier steps"
    return f"allocated by what {froms} posted{targets}"


def describe_treatment(treatment: object) -> str:
    """An exception's treatment (ExceptionTreatment or its JSON) as one phrase."""
    def get(key: str) -> Any:
        return treatment.get(key) if isinstance(treatment, dict) else getattr(treatment, key, None)

    method = get("method")
    if method == "fixed":
        return "fixed split " + _split({str(k): Decimal(str(v)) for k, v in (get("split") or {}).items()})
    if method == "even":
        targets = get("targets")
        return "even" + (f" over {', '.join(targets)}" if targets else "")
    if method == "driver":
        return f"driver {get('driver')} to {get('target_kind') or 'cost_center'}"
    return "kept on the unallocated line"


def describe_exception(e: ExceptionLike) -> str:
    return f"{e.match_field} = {e.match_value}, {describe_treatment(e.treatment)}"


def _list_change(label: str, old: Sequence[str] | None, new: Sequence[str] | None, default: str) -> list[str]:
    if list(old or []) == list(new or []):
        return []
    if old is None or new is None:
        return [f"{label} changed from {', '.join(old) if old else default} to {', '.join(new) if new else default}"]
    out = []
    added = [x for x in new if x not in old]
    removed = [x for x in old if x not in new]
    if added:
        out.append(f"{label} added: {', '.join(added)}")
    if removed:
        out.append(f"{label} removed: {', '.join(removed)}")
    if not added and not removed:
        out.append(f"{label} reordered: {', '.join(new)}")
    return out


def _map_change(label: str, unit: str, old: Mapping[str, float | Decimal] | None,
                new: Mapping[str, float | Decimal] | None) -> list[str]:
    old, new = old or {}, new or {}
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            out.append(f"{label} {key} {_num(new[key])}{unit} added")
        elif key not in new:
            out.append(f"{label} {key} removed (was {_num(old[key])}{unit})")
        elif old[key] != new[key]:
            out.append(f"{label} {key} {_num(old[key])}{unit} → {_num(new[key])}{unit}")
    return out


def _filter_changes(old: Sequence[Filter], new: Sequence[Filter]) -> list[str]:
    if list(old) == list(new):
        return []
    out = []
    old_by_field = {f.field: f for f in old}
    new_by_field = {f.field: f for f in new}
    for f in new:
        before = old_by_field.get(f.field)
        if before is None:
            out.append(f"filter added: {describe_filter(f)}")
        elif before != f:
            out.append(f"filter changed from {describe_filter(before)} to {describe_filter(f)}")
    out += [f"filter removed: {describe_filter(f)}" for f in old if f.field not in new_by_field]
    return out or ["filters reordered: " + describe_filters(new)]


def _method_changes(a: Method, b: Method) -> list[str]:
    if a == b:
        return []
    if a.kind != b.kind:
        return [f"method changed from {describe_method(a)} to {describe_method(b)}"]
    out: list[str] = []
    if a.driver != b.driver:
        out.append(f"driver changed from {a.driver} to {b.driver}")
    out += _map_change("weight of", "", a.weights, b.weights)
    out += _map_change("split of", " %", a.split, b.split)
    if a.kind == "direct" and a.fallback != b.fallback:
        out.append(f"fallback changed from {' → '.join(a.fallback)} to {' → '.join(b.fallback)}")
    out += _list_change("targets", a.targets, b.targets, "every unit")
    out += _list_change("from_steps", a.from_steps, b.from_steps, "all earlier steps")
    return out


def _step_changes(a: Step, b: Step) -> list[str]:
    out: list[str] = []
    if a.source.kind != b.source.kind:
        out.append(f"source changed from {a.source.kind} to {b.source.kind}")
    out += _filter_changes(a.source.filters, b.source.filters)
    out += _method_changes(a.method, b.method)
    if a.target_kind != b.target_kind:
        out.append(f"target kind changed from {a.target_kind} to {b.target_kind}")
    if a.unallocated != b.unallocated:
        out.append(f"unallocated changed from {a.unallocated} to {b.unallocated}")
    if a.reciprocal_group != b.reciprocal_group:
        out.append(f"reciprocal group changed from {a.reciprocal_group or 'none'} to {b.reciprocal_group or 'none'}")
    if a.note != b.note:
        out.append(f"note changed to '{b.note}'" if b.note else "note removed")
    return out


def _moved(old: list[str], new: list[str]) -> set[str]:
    """The fewest steps whose move explains the new order: those outside a longest common subsequence."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    stayed = {x for block in matcher.get_matching_blocks() for x in new[block.b:block.b + block.size]}
    return set(new) - stayed


def describe_source(s: Step) -> str:
    """What a step claims: "cost_lines: tag_application = SHR-NET", or that it only receives."""
    if s.source.kind == "none":
        return "nothing of its own (receives what earlier steps send it)"
    return f"{s.source.kind}: {describe_filters(s.source.filters)}"


def describe_step(s: Step) -> str:
    return f"claims {describe_source(s)}; {describe_method(s.method)} to {s.target_kind}"


def rule_set_changes(old: RuleSet, new: RuleSet) -> list[str]:
    """The changes from `old` to `new`, one sentence each, in reading order (rule set, then steps)."""
    out: list[str] = []
    if old.name != new.name:
        out.append(f"rule set renamed from '{old.name}' to '{new.name}'")
    if old.mode != new.mode:
        out.append(f"mode {old.mode} → {new.mode}")
    if old.description != new.description:
        out.append("description changed")
    for target in sorted(set(old.service_pools) | set(new.service_pools)):
        a, b = old.service_pools.get(target), new.service_pools.get(target)
        if a is None:
            out.append(f"service pool {target} → step {b} added")
        elif b is None:
            out.append(f"service pool {target} removed (was step {a})")
        elif a != b:
            out.append(f"service pool {target} now feeds step {b} instead of {a}")
    old_pos = {s.id: i for i, s in enumerate(old.steps, 1)}
    new_ids = {s.id for s in new.steps}
    moved = _moved([s.id for s in old.steps if s.id in new_ids], [s.id for s in new.steps if s.id in old_pos])
    for i, s in enumerate(new.steps, 1):
        label = f"step {i} '{s.name}'"
        if s.id not in old_pos:
            out.append(f"{label} added: {describe_step(s)}")
            continue
        before = old.steps[old_pos[s.id] - 1]
        if before.name != s.name:
            out.append(f"step {i} renamed from '{before.name}' to '{s.name}'")
        if s.id in moved:
            out.append(f"{label} moved from position {old_pos[s.id]} to {i}")
        out += [f"{label} {c}" for c in _step_changes(before, s)]
    out += [f"step {i} '{s.name}' removed" for i, s in enumerate(old.steps, 1) if s.id not in new_ids]
    return out


def exception_changes(old: Iterable[ExceptionLike], new: Iterable[ExceptionLike]) -> list[str]:
    """Exceptions added, removed or changed between two lists (e.g. those in force in two months)."""
    a = {e.exception_id: e for e in old}
    b = {e.exception_id: e for e in new}
    out = []
    for eid in sorted(set(a) | set(b)):
        if eid not in a:
            out.append(f"exception {eid} added: {describe_exception(b[eid])}")
        elif eid not in b:
            out.append(f"exception {eid} removed")
        elif describe_exception(a[eid]) != describe_exception(b[eid]):
            out.append(f"exception {eid} changed from {describe_exception(a[eid])} to {describe_exception(b[eid])}")
    return out


def version_changes(old: RuleSet | None, new: RuleSet, *, old_effective: str | None = None,
                    new_effective: str | None = None, old_exceptions: Iterable[ExceptionLike] = (),
                    new_exceptions: Iterable[ExceptionLike] = ()) -> list[str]:
    """Everything an approver reads: the rules, the effective month and the exceptions. No `old`: a first
    version, every step added."""
    base = old if old is not None else new.model_copy(update={"steps": []})
    out = rule_set_changes(base, new)
    if old is not None and old_effective != new_effective:
        out.append(f"effective_from {old_effective or 'always'} → {new_effective or 'always'}")
    out += exception_changes(old_exceptions, new_exceptions)
    return out
