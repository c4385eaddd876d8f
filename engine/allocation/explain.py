"""Explain a posted amount to the cent: a target's charge in one run, broken into its (origin pool, target) cells, and
each cell into the chains of steps its money travelled, with the figures that re-derive it.

The explanation is of the run itself: the run's rule set, version, parameters and basis are read from allocation_run,
the period's pools reloaded and the cascade re-run with a recording flow (`_Tracer`); every re-derived exact row
amount must equal the stored `allocation_result.amount`, otherwise the inputs changed since posting and nothing is
explained (AllocationError). Posted cents are the stored ones. docs/explain.md says what is shown and the caveats.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import duckdb

from engine.access.scope import ensure_can_see
from engine.access.users import User
from engine.allocation import adjustments, methods, overrides, run_org
from engine.allocation.cascade import PRECISION, UNALLOCATED_KIND, RowKey, Rows, _Flow, run_flow
from engine.allocation.pools import UNMATCHED, Basis, Org, PooledException, load_pools
from engine.allocation.posting import AMOUNT_QUANTUM
from engine.allocation.runs import latest_run, resolve_rule_set
from engine.errors import AccessDenied, AllocationError, InputError, NotFound
from engine.rules import versions
from engine.rules.model import STEP_PREFIX, UNALLOCATED, RuleSet, Step
from engine.scope import transform as scope_transform

CENT = Decimal("0.01")
Receiver = tuple[str, str]  # (target_kind, target_id) or ("pool", step id)


@dataclass(frozen=True)
class Component:
    """One driver of a weighted step: its normalised weight and the receiver's quantity out of the total."""

    driver: str
    weight: Decimal
    quantity: Decimal
    total_quantity: Decimal


@dataclass(frozen=True)
class Hop:
    """One step of a chain: `amount_in` (money of this origin arriving along this chain) × `share` = `amount`.
    A reciprocal hop has no share: its amount is the solved total of the step for this origin."""

    step: int
    step_id: str
    step_name: str
    method: str
    driver: str
    amount_in: Decimal
    receiver_kind: str
    receiver_id: str
    quantity: Decimal | None
    total_quantity: Decimal | None
    share: Decimal | None
    amount: Decimal
    note: str = ""
    components: tuple[Component, ...] = ()


@dataclass(frozen=True)
class Chain:
    hops: tuple[Hop, ...]

    @property
    def exact(self) -> Decimal:
        return self.hops[-1].amount

    def product(self) -> Decimal:
        """The chain re-derived: its first amount (pool total, or a reciprocal solved total) × every later share."""
        with localcontext() as ctx:
            ctx.prec = PRECISION
            value = self.hops[0].amount_in if self.hops[0].share is not None else self.hops[0].amount
            for h in self.hops:
                if h.share is None:
                    value = h.amount
                else:
                    value = value * h.share
            return value


@dataclass(frozen=True)
class Cell:
    source_pool: str
    target_kind: str
    target_id: str
    exact: Decimal
    posted: Decimal
    chains: tuple[Chain, ...]

    @property
    def nearest(self) -> Decimal:
        return self.exact.quantize(CENT, rounding=ROUND_HALF_EVEN)

    @property
    def adjustment(self) -> Decimal:
        """posted − exact rounded half-even: what the period's min-cost-flow rounding decided for this cell."""
        return self.posted - self.nearest


@dataclass(frozen=True)
class Explanation:
    run_key: str
    period: str
    rule_set: str
    rule_version: int
    target_kind: str
    target_id: str
    posted_total: Decimal
    cells: tuple[Cell, ...] = field(default_factory=tuple)

    @property
    def exact_total(self) -> Decimal:
        return sum((c.exact for c in self.cells), Decimal(0))


class _Tracer(_Flow):
    """The cascade's flow, recording what explain needs: per step and origin the amount it shared, its shares and the
    quantities they came from, and who sent money into which pool."""

    def __init__(self, rs: RuleSet, data: object) -> None:
        super().__init__(rs, data)  # type: ignore[arg-type]
        self.shared: dict[str, dict[str, Decimal]] = {}            # step → origin → amount it shared
        self.prepared: dict[str, tuple[dict[tuple[str, str], Decimal], methods.Shares]] = {}
        self.block_of: dict[str, list[str]] = {}
        self.direct_in: dict[str, dict[str, Decimal]] = {}         # reciprocal step → origin → cost entering
        self.raw: dict[str, dict[str, Decimal]] = {}               # step → raw target → quantity
        self.weights: dict[str, list[tuple[str, Decimal, dict[str, Decimal]]]] = {}
        self.sends: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)  # (sender, pool, origin) → amount
        self._sender: str | None = None

    def shares_for(self, step: Step) -> methods.Shares:
        m = step.method
        kind = step.target_kind
        if m.kind == "driver" and m.driver is not None:
            self.raw[step.id] = dict(self.data.drivers.get((m.driver, kind), {}))
        elif m.kind == "allocated":
            self.raw[step.id] = self.allocated_base(kind, m.from_steps)
        elif m.kind == "even":
            self.raw[step.id] = dict.fromkeys(m.targets if m.targets is not None else self.data.org.members(kind),
                                              Decimal(1))
        elif m.kind == "fixed" and m.split is not None:
            self.raw[step.id] = {t: Decimal(p) for t, p in m.split.items()}
        elif m.kind == "weighted" and m.weights is not None:
            per = [(d, Decimal(w), dict(self.data.drivers.get((d, kind), {}))) for d, w in sorted(m.weights.items())]
            self.weights[step.id] = per
        return super().shares_for(step)

    def block(self, first: int, members: list[Step]) -> None:
        if len(members) > 1:
            for s in members:
                self.direct_in[s.id] = {o: self.inflow.get(s.id, {}).get(o, Decimal(0))
                                        + (self.data.pool_totals.get(s.id, Decimal(0)) if o == s.id else Decimal(0))
                                        for o in set(self.inflow.get(s.id, {})) | {s.id}}
        super().block(first, members)

    def traced(self, ids: list[str], prepared: list[tuple[dict[tuple[str, str], Decimal], methods.Shares]],
               totals: dict[str, list[Decimal]]) -> None:
        for i, sid in enumerate(ids):
            self.prepared[sid] = prepared[i]
            self.block_of[sid] = list(ids)
            self.shared[sid] = {o: xs[i] for o, xs in totals.items() if xs[i] != 0}

    def send(self, pool_step: str, origin: str, amount: Decimal) -> None:
        if self._sender is not None and amount != 0:
            self.sends[(self._sender, pool_step, origin)] += amount
        super().send(pool_step, origin, amount)

    def direct(self, no: int, step: Step) -> None:
        self._sender = step.id
        try:
            super().direct(no, step)
        finally:
            self._sender = None

    def exception(self, ex: PooledException) -> None:
        self._sender = ex.pool
        try:
            super().exception(ex)
        finally:
            self._sender = None


class _Chains:
    """Chains of hops from an origin pool's total to a posted row, built from what the tracer recorded."""

    def __init__(self, rs: RuleSet, tracer: _Tracer) -> None:
        self.rs = rs
        self.t = tracer
        self.steps = {s.id: (i + 1, s) for i, s in enumerate(rs.steps)}
        self.exceptions = {e.pool: e for e in tracer.data.exceptions}
        self.pool_totals = tracer.data.pool_totals

    def _route(self, raw_target: str, kind: str) -> Receiver:
        if raw_target.startswith(STEP_PREFIX):
            return ("pool", raw_target[len(STEP_PREFIX):])
        if raw_target in self.rs.service_pools:
            return ("pool", self.rs.service_pools[raw_target])
        if raw_target == UNALLOCATED:
            return (UNALLOCATED_KIND, UNALLOCATED)
        return (kind, raw_target)

    def _share_of(self, sid: str, receiver: Receiver) -> Decimal:
        finals, pools = self.t.prepared[sid]
        if receiver[0] == "pool":
            return pools[receiver[1]]
        return finals[receiver]

    def _block_hop(self, sid: str, amount_in: Decimal, receiver: Receiver) -> Hop:
        with localcontext() as ctx:
            ctx.prec = PRECISION  # quantities added the way methods.proportional adds them
            return self._block_hop_exact(sid, amount_in, receiver)

    def _block_hop_exact(self, sid: str, amount_in: Decimal, receiver: Receiver) -> Hop:
        no, step = self.steps[sid]
        finals, pools = self.t.prepared[sid]
        kept = set(finals) | {("pool", p) for p in pools}
        share = self._share_of(sid, receiver)
        quantity = total = None
        comps: tuple[Component, ...] = ()
        note = ""
        if sid in self.t.raw:
            q: dict[Receiver, Decimal] = defaultdict(Decimal)
            for t, v in self.t.raw[sid].items():
                if step.method.kind in ("driver", "allocated") and v <= 0:
                    continue
                if step.method.targets is not None and t not in step.method.targets:
                    continue
                q[self._route(t, step.target_kind)] += v
            if receiver in q:
                quantity = q[receiver]
                total = sum((v for r, v in q.items() if r in kept), Decimal(0))
            if len(kept) < len(q):
                note = "receivers that may not receive here were dropped and the rest renormalised"
        elif sid in self.t.weights:
            live = [(d, w, vals) for d, w, vals in self.t.weights[sid]
                    if w > 0 and methods.proportional(vals, step.method.targets)]
            wsum = sum((w for _, w, _ in live), Decimal(0))
            out = []
            for d, w, vals in live:
                kept_q = {t: v for t, v in vals.items() if v > 0
                          and (step.method.targets is None or t in step.method.targets)}
                rq = sum((v for t, v in kept_q.items() if self._route(t, step.target_kind) == receiver), Decimal(0))
                out.append(Component(d, w / wsum, rq, sum(kept_q.values(), Decimal(0))))
            comps = tuple(out)
            note = "share = Σ weight × quantity / total quantity over the drivers"
        amount = amount_in * share
        return Hop(no, sid, step.name, step.method.kind, step.method.driver_label or "", amount_in, receiver[0],
                   receiver[1], quantity, total, share, amount, note, comps)

    def into(self, sid: str, origin: str, depth: int = 0) -> list[list[Hop]]:
        """Chains delivering `origin`'s money into step `sid` (an empty chain: the step's own pool)."""
        if depth > len(self.rs.steps) + 2:
            raise AllocationError(f"cannot trace the money of {origin} into step {sid}: the chain does not end")
        members = self.t.block_of.get(sid, [sid])
        if len(members) > 1:
            no, step = self.steps[sid]
            entering = sum((self.t.direct_in.get(m, {}).get(origin, Decimal(0)) for m in members), Decimal(0))
            solved = self.t.shared[sid].get(origin, Decimal(0))
            return [[Hop(no, sid, step.name, "reciprocal", step.reciprocal_group or "", entering, "pool", sid, None,
                         None, None, solved, f"solved simultaneously with {', '.join(members)} (group "
                                             f"{step.reciprocal_group}): no per-hop quantities")]]
        out: list[list[Hop]] = []
        if origin == sid and sid in self.pool_totals:
            out.append([])
        for sender_id in self.steps:
            if sender_id in self.t.prepared and sid in self.t.prepared[sender_id][1] \
                    and sid not in self.t.block_of.get(sender_id, []) and origin in self.t.shared.get(sender_id, {}):
                for prefix in self.into(sender_id, origin, depth + 1):
                    amount_in = prefix[-1].amount if prefix else self.pool_totals[origin]
                    out.append([*prefix, self._block_hop(sender_id, amount_in, ("pool", sid))])
        for (sender_id, pool, o), amount in sorted(self.t.sends.items()):
            if pool == sid and o == origin:
                out.append([self._line_hop(sender_id, amount, ("pool", sid))])
        return out

    def _line_hop(self, pool: str, amount: Decimal, receiver: Receiver, link: str = "") -> Hop:
        """Money a direct step, an exception or the unmatched pool gave a receiver: amount / pool total."""
        total = self.pool_totals.get(pool, Decimal(0))
        with localcontext() as ctx:
            ctx.prec = PRECISION
            share = amount / total if total else None
        if pool in self.steps:
            no, step = self.steps[pool]
            return Hop(no, pool, step.name, "direct", link, total, receiver[0], receiver[1], amount, total, share,
                       amount, "the line owner's amount out of the step's pool total")
        ex = self.exceptions.get(pool)
        name = f"exception {ex.exception_id}: {ex.reason}" if ex else "lines no step claims"
        method = f"exception:{ex.treatment.method}" if ex else "unmatched"
        return Hop(0, pool, name, method, (ex.treatment.driver or "") if ex else "", total, receiver[0], receiver[1],
                   amount, total, share, amount, "the receiver's amount out of the exception's pool total")

    def for_row(self, key: RowKey, amount: Decimal) -> list[Chain]:
        receiver = (key.target_kind, key.target_id)
        if key.step_id in self.t.prepared:
            chains = []
            for prefix in self.into(key.step_id, key.source_pool):
                amount_in = prefix[-1].amount if prefix else self.pool_totals[key.source_pool]
                chains.append(Chain((*prefix, self._block_hop(key.step_id, amount_in, receiver))))
            return chains
        return [Chain((self._line_hop(key.source_pool if key.step_id in ("exception", UNMATCHED) else key.step_id,
                                      amount, receiver, key.driver),))]


def _target_kind(org: Org, target_id: str) -> str:
    if org.kind.get(target_id) in ("business_unit", "cost_center"):
        return org.kind[target_id]
    if target_id in org.app_cc:
        return "application"
    raise NotFound(f"no business unit, cost centre or application {target_id}")


def _belongs(org: Org, kind: str, target_id: str, row_kind: str, row_id: str) -> bool:
    if row_kind == UNALLOCATED_KIND:
        return False
    if kind == "business_unit":
        return org.business_unit_of(row_kind, row_id) == target_id
    if kind == "cost_center":
        return org.cost_center_of(row_kind, row_id) == target_id
    return row_kind == "application" and row_id == target_id


def _check_scope(user: User | None, org: Org, kind: str, target_id: str) -> None:
    if user is None:
        raise AccessDenied("not signed in")
    if user.cost_centers is None:
        return
    if kind == "business_unit":
        raise AccessDenied(f"{user.username} may explain only their own cost centres and applications")
    cc = org.cost_center_of(kind, target_id)
    ensure_can_see(user, cc or "")


def _stored(con: duckdb.DuckDBPyConnection, run_key: str) -> dict[tuple[object, ...], tuple[Decimal, Decimal]]:
    rows = con.execute(
        "SELECT step, source_pool, method, coalesce(driver, ''), target_kind, target_id, amount, posted_amount"
        " FROM allocation_result WHERE run_key = ?", [run_key]).fetchall()
    out: dict[tuple[object, ...], tuple[Decimal, Decimal]] = {}
    for step, pool, method, driver, tk, tid, amount, posted in rows:
        k = (int(step), str(pool), str(method), str(driver), str(tk), str(tid))
        prev = out.get(k, (Decimal(0), Decimal(0)))
        out[k] = (prev[0] + Decimal(amount), prev[1] + Decimal(posted))
    return out


def _rederive(con: duckdb.DuckDBPyConnection, run_key: str, period: str, rule_set: str, version: int, basis: str,
              params: dict[str, object]) -> tuple[RuleSet, _Tracer, Rows]:
    if version == 0:
        raise AllocationError(f"run {run_key[:12]} used an unversioned rule set file: it cannot be re-derived")
    base, _ = resolve_rule_set(con, rule_set, period, version)
    rs = overrides.from_params(base, params)
    b: Basis = "billed" if basis == "billed" else "effective"
    data = load_pools(con, rs, period, b)
    rs, _ = scope_transform.scoped(con, rs, data)     # the scope in force for the month, as month close applied it
    tracer = _Tracer(rs, data)
    return rs, tracer, run_flow(tracer)


def explain(con: duckdb.DuckDBPyConnection, user: User | None, period: str, target_id: str,
            run_key: str | None = None) -> Explanation:
    """`target_id`'s posted charge in `run_key` (default: the period's latest posted run), cell by cell, re-derived.

    An app owner may explain only their own cost centres and applications (not a business unit)."""
    if not versions.PERIOD.match(period):
        raise InputError(f"period must be YYYY-MM, not {period!r}")
    if user is None:
        raise AccessDenied("not signed in")
    key = run_key or latest_run(con, period)
    if key is None:
        raise NotFound(f"no posted run for {period}")
    meta = con.execute("SELECT period, rule_set, rule_version, basis, params FROM allocation_run"
                       " WHERE run_key = ? AND status = 'posted'", [key]).fetchall()
    if not meta or meta[0][0] != period:
        raise NotFound(f"no posted run {key[:12]} for {period}")
    _, rule_set, version, basis, params_json = meta[0]
    org = run_org.org_of_run(con, key)
    kind = _target_kind(org, target_id)
    _check_scope(user, org, kind, target_id)
    rs, tracer, rows = _rederive(con, key, period, str(rule_set), int(version), str(basis),
                                 json.loads(params_json or "{}"))
    stored = _stored(con, key)
    # accepted disputes post their own rows after the cascade (engine/allocation/adjustments.py): explained apart
    adjusted = {k: v for k, v in stored.items() if adjustments.is_adjustment_pool(str(k[1]))}
    stored = {k: v for k, v in stored.items() if k not in adjusted}
    rederived: dict[tuple[object, ...], Decimal] = defaultdict(Decimal)
    for rk, amount in rows.items():
        rederived[(rk.step, rk.source_pool, rk.method, rk.driver, rk.target_kind, rk.target_id)] += amount
    quantised = {k: v.quantize(AMOUNT_QUANTUM) for k, v in rederived.items()}
    if set(quantised) != set(stored) or any(quantised[k] != stored[k][0] for k in stored):
        raise AllocationError(f"the inputs of {period} changed since run {key[:12]} was posted: its amounts cannot "
                              "be re-derived (run the month again to explain the current figures)")
    builder = _Chains(rs, tracer)
    cells: dict[tuple[str, str, str], list[tuple[RowKey, Decimal]]] = defaultdict(list)
    for rk, amount in sorted(rows.items()):
        if _belongs(org, kind, target_id, rk.target_kind, rk.target_id):
            cells[(rk.source_pool, rk.target_kind, rk.target_id)].append((rk, amount))
    out: list[Cell] = []
    for (pool, tk, tid), members in sorted(cells.items()):
        chains = [c for rk, amount in members for c in builder.for_row(rk, amount)]
        posted = sum((stored[(rk.step, rk.source_pool, rk.method, rk.driver, rk.target_kind, rk.target_id)][1]
                      for rk, _ in members), Decimal(0))
        with localcontext() as ctx:
            ctx.prec = PRECISION
            exact = sum((a for _, a in members), Decimal(0))
        out.append(Cell(pool, tk, tid, exact, posted, tuple(chains)))
    for adj_key, (amount, posted_amount) in sorted(adjusted.items(), key=str):
        a_step, a_pool, a_method, a_driver, a_kind, a_id = (str(x) for x in adj_key)
        if _belongs(org, kind, target_id, a_kind, a_id):
            hop = Hop(int(a_step), a_pool, a_pool.replace(adjustments.POOL_PREFIX, "Dispute ") + " adjustment",
                      a_method, a_driver, amount, a_kind, a_id, None, None, Decimal(1), amount,
                      note="an accepted dispute: its amount moves as agreed, after the cascade")
            out.append(Cell(a_pool, a_kind, a_id, amount, posted_amount, (Chain((hop,)),)))
    total = sum((c.posted for c in out), Decimal(0))
    return Explanation(key, period, str(rule_set), int(version), kind, target_id, total, tuple(out))


def targets(con: duckdb.DuckDBPyConnection, user: User | None, period: str) -> list[tuple[str, str, str]]:
    """(kind, id, name) a user may explain for a period's latest run: business units (unscoped users only),
    cost centres and applications, in the run's org."""
    if user is None:
        return []
    key = latest_run(con, period)
    if key is None:
        return []
    org = run_org.org_of_run(con, key)
    names = {str(k): str(v) for k, v in con.execute(
        "SELECT unit_id, name FROM org_unit UNION ALL SELECT app_id, name FROM application").fetchall()}
    seen = user.cost_centers
    out: list[tuple[str, str, str]] = []
    if seen is None:
        out += [("business_unit", u, names.get(u, u)) for u in org.members("business_unit")]
    out += [("cost_center", u, names.get(u, u)) for u in org.members("cost_center") if seen is None or u in seen]
    out += [("application", a, names.get(a, a)) for a in org.members("application")
            if seen is None or org.app_cc.get(a) in seen]
    return out


def _num(v: Decimal | None) -> str | None:
    return None if v is None else format(v, "f")


def as_dict(e: Explanation) -> dict[str, object]:
    """The explanation as JSON-ready data; every number a string at full precision (exact Decimals)."""
    return {
        "run_key": e.run_key, "period": e.period, "rule_set": e.rule_set, "rule_version": e.rule_version,
        "target_kind": e.target_kind, "target_id": e.target_id, "posted_total": _num(e.posted_total),
        "exact_total": _num(e.exact_total),
        "cells": [{
            "source_pool": c.source_pool, "target_kind": c.target_kind, "target_id": c.target_id,
            "exact": _num(c.exact), "nearest": _num(c.nearest), "posted": _num(c.posted),
            "adjustment": _num(c.adjustment),
            "chains": [{"exact": _num(ch.exact), "hops": [{
                "step": h.step, "step_id": h.step_id, "step_name": h.step_name, "method": h.method,
                "driver": h.driver, "amount_in": _num(h.amount_in), "receiver_kind": h.receiver_kind,
                "receiver_id": h.receiver_id, "quantity": _num(h.quantity), "total_quantity": _num(h.total_quantity),
                "share": _num(h.share), "amount": _num(h.amount), "note": h.note,
                "components": [{"driver": k.driver, "weight": _num(k.weight), "quantity": _num(k.quantity),
                                "total_quantity": _num(k.total_quantity)} for k in h.components],
            } for h in ch.hops]} for ch in c.chains],
        } for c in e.cells],
    }


def rederive_line(cell: Cell) -> str:
    """The cell's arithmetic as one line: chain products added, rounded, adjusted."""
    parts = []
    for ch in cell.chains:
        first = ch.hops[0]
        start = first.amount if first.share is None else first.amount_in
        factors = [format(h.share, "f") for h in ch.hops if h.share is not None]
        parts.append(" × ".join([format(start, "f"), *factors]) if factors else format(start, "f"))
    return (f"{' + '.join(f'({p})' for p in parts)} = {format(cell.exact, 'f')} → nearest cent {cell.nearest}"
            f" {'+' if cell.adjustment >= 0 else '−'} {abs(cell.adjustment)} (rounding) = posted {cell.posted}")
