"""The cascade: pools flow through the steps in order (step-down), reciprocal groups are solved as one block,
and every amount keeps the origin pool its money came from so that conservation can be checked per pool.

Shares and amounts stay unrounded (Decimal, 40 significant digits) until posting. The inputs are the small
pre-aggregated PoolData, so the same function serves the month-close run and the what-if workshop: that is
why their totals agree.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import NamedTuple

from engine.allocation import methods
from engine.allocation.pools import UNMATCHED, PoolData, PooledException
from engine.allocation.reciprocal import inverse_of_i_minus_st
from engine.errors import InputError
from engine.rules.model import STEP_PREFIX, UNALLOCATED, RuleSet, Step

PRECISION = 40
UNALLOCATED_KIND = "unallocated"


class RowKey(NamedTuple):
    """What a result row says about its money: which step posted it, where it came from, how, to whom.
    A tuple (not a dataclass) because posting sorts and hashes thousands of them per what-if evaluation."""

    step: int
    step_id: str
    step_name: str
    source_pool: str
    method: str
    driver: str
    target_kind: str
    target_id: str


Rows = dict[RowKey, Decimal]


class CascadeError(InputError):
    """A rule set that cannot be applied to this period's data (for example a singular reciprocal group)."""


def _unalloc_key(step_no: int, step_id: str, name: str, origin: str, method: str, driver: str) -> RowKey:
    return RowKey(step_no, step_id, name, origin, method, driver, UNALLOCATED_KIND, UNALLOCATED)


class _Flow:
    def __init__(self, rs: RuleSet, data: PoolData) -> None:
        self.rs = rs
        self.data = data
        self.pos = {s.id: i for i, s in enumerate(rs.steps)}
        self.inflow: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.rows: Rows = defaultdict(Decimal)
        self.posted: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.done: set[str] = set()

    def add(self, key: RowKey, amount: Decimal, posting_step: str) -> None:
        if amount == 0:
            return
        self.rows[key] += amount
        if key.target_kind != UNALLOCATED_KIND:
            self.posted[posting_step][(key.target_kind, key.target_id)] += amount

    def send(self, pool_step: str, origin: str, amount: Decimal) -> None:
        if pool_step in self.done:
            raise CascadeError(f"cost sent back to step {pool_step!r}, which has already been allocated")
        if amount != 0:
            self.inflow[pool_step][origin] += amount

    def route(self, shares: methods.Shares, target_kind: str) -> tuple[dict[tuple[str, str], Decimal], methods.Shares]:
        """Split shares into final targets and pools (service_pools turn a target into a later step's pool)."""
        finals: dict[tuple[str, str], Decimal] = {}
        pools: methods.Shares = {}
        for t, v in shares.items():
            if t.startswith(STEP_PREFIX):
                pools[t[len(STEP_PREFIX):]] = pools.get(t[len(STEP_PREFIX):], Decimal(0)) + v
            elif t in self.rs.service_pools:
                sid = self.rs.service_pools[t]
                pools[sid] = pools.get(sid, Decimal(0)) + v
            elif t == UNALLOCATED:
                finals[(UNALLOCATED_KIND, UNALLOCATED)] = v
            else:
                finals[(target_kind, t)] = v
        return finals, pools

    def shares_for(self, step: Step) -> methods.Shares:
        m = step.method
        kind = step.target_kind
        if m.kind == "driver":
            assert m.driver is not None
            return methods.proportional(self.data.drivers.get((m.driver, kind), {}), m.targets)
        if m.kind == "weighted":
            assert m.weights is not None
            per = {d: self.data.drivers.get((d, kind), {}) for d in m.weights}
            return methods.weighted(per, m.weights, m.targets)
        if m.kind == "even":
            return methods.even(m.targets if m.targets is not None else self.data.org.members(kind))
        if m.kind == "fixed":
            assert m.split is not None
            return methods.fixed(m.split)
        if m.kind == "allocated":
            return methods.proportional(self.allocated_base(kind, m.from_steps), m.targets)
        raise CascadeError(f"step {step.id!r}: method {m.kind} has no shares")

    def allocated_base(self, kind: str, from_steps: list[str] | None) -> dict[str, Decimal]:
        org = self.data.org
        base: dict[str, Decimal] = defaultdict(Decimal)
        for sid in sorted(self.posted):
            if from_steps is not None and sid not in from_steps:
                continue
            for (tk, tid), amt in sorted(self.posted[sid].items()):
                if kind == "cost_center":
                    t = org.cost_center_of(tk, tid)
                elif kind == "business_unit":
                    t = org.business_unit_of(tk, tid)
                else:
                    t = tid if tk == "application" else None
                if t is not None:
                    base[t] += amt
        return dict(base)

    def exception(self, ex: PooledException) -> None:
        amount = self.data.pool_totals.get(ex.pool, Decimal(0))
        tr = ex.treatment
        name = f"exception {ex.exception_id}: {ex.reason}"
        method = f"exception:{tr.method}"
        if tr.method == "fixed":
            shares = methods.fixed(tr.split or {})
        elif tr.method == "even":
            shares = methods.even(tr.targets or self.data.org.members(tr.target_kind))
        elif tr.method == "driver":
            shares = methods.proportional(self.data.drivers.get((tr.driver or "", tr.target_kind), {}), tr.targets)
        else:
            shares = {}
        finals, pools = self.route(shares, tr.target_kind)
        driver = tr.driver or ""
        if not finals and not pools:
            self.add(_unalloc_key(0, "exception", name, ex.pool, method, driver), amount, "exception")
            return
        for (tk, tid), v in finals.items():
            self.add(RowKey(0, "exception", name, ex.pool, method, driver, tk, tid), amount * v, "exception")
        for sid, v in pools.items():
            self.send(sid, ex.pool, amount * v)

    def direct(self, no: int, step: Step) -> None:
        if self.inflow.get(step.id):
            raise CascadeError(f"step {step.id!r}: a direct step cannot receive cost from other steps")
        for link, target, amount in self.data.direct.get(step.id, []):
            if target is None:
                self.unallocated(no, step, step.id, amount, "direct", "unresolved")
                continue
            finals, pools = self.route({target: Decimal(1)}, step.target_kind)
            if any(p in self.done for p in pools):  # a service pool already closed: the owner pays directly
                finals, pools = {(step.target_kind, target): Decimal(1)}, {}
            for (tk, tid), _ in finals.items():
                self.add(RowKey(no, step.id, step.name, step.id, "direct", link or "", tk, tid), amount, step.id)
            for sid in pools:
                self.send(sid, step.id, amount)
        self.done.add(step.id)

    def unallocated(self, no: int, step: Step, origin: str, amount: Decimal, method: str, driver: str) -> None:
        if step.unallocated == "post":
            self.add(_unalloc_key(no, step.id, step.name, origin, method, driver), amount, step.id)
        else:
            self.send(step.unallocated[len(STEP_PREFIX):], origin, amount)

    def block(self, first: int, members: list[Step]) -> None:
        """One step, or a reciprocal group solved together: x = d + Sᵀx, per origin pool."""
        ids = [s.id for s in members]
        in_block = set(ids)
        prepared: list[tuple[dict[tuple[str, str], Decimal], methods.Shares]] = []
        for s in members:
            raw = self.shares_for(s)
            finals, pools = self.route(raw, s.target_kind)
            dropped = {p for p in pools if p not in in_block and self.pos[p] < first}
            if self.rs.mode == "direct":
                dropped = set(pools)
            dropped.add(s.id)
            combined: methods.Shares = {f"\x00{tk}\x00{tid}": v for (tk, tid), v in finals.items()}
            combined.update({STEP_PREFIX + p: v for p, v in pools.items()})
            kept = methods.drop_and_renormalise(combined, {STEP_PREFIX + d for d in dropped})
            f2 = {tuple(k.split("\x00")[1:]): v for k, v in kept.items() if k.startswith("\x00")}
            p2 = {k[len(STEP_PREFIX):]: v for k, v in kept.items() if k.startswith(STEP_PREFIX)}
            if not f2 and not p2:  # nothing to share by: the step's unallocated policy takes all of it
                if s.unallocated == "post":
                    f2 = {(UNALLOCATED_KIND, UNALLOCATED): Decimal(1)}
                else:
                    p2 = {s.unallocated[len(STEP_PREFIX):]: Decimal(1)}
            prepared.append((f2, p2))  # type: ignore[arg-type]
        origins = sorted({o for s in members for o in self.inflow.get(s.id, {})}
                         | {s.id for s in members if s.id in self.data.pool_totals})
        direct_cost = {
            o: [self.inflow.get(s.id, {}).get(o, Decimal(0)) + (self.data.pool_totals.get(s.id, Decimal(0))
                                                               if o == s.id else Decimal(0)) for s in members]
            for o in origins
        }
        if len(members) == 1:
            totals = {o: d for o, d in direct_cost.items()}
        else:
            matrix = [[Fraction(prepared[i][1].get(ids[j], Decimal(0))) for j in range(len(ids))]
                      for i in range(len(ids))]
            try:
                inv = inverse_of_i_minus_st(matrix, ids)
            except ValueError as exc:
                raise CascadeError(str(exc)) from exc
            totals = {}
            for o, d in direct_cost.items():
                fd = [Fraction(v) for v in d]
                solved = [sum((inv[i][j] * fd[j] for j in range(len(ids))), Fraction(0)) for i in range(len(ids))]
                totals[o] = [Decimal(v.numerator) / Decimal(v.denominator) for v in solved]
        for i, s in enumerate(members):
            finals, pools = prepared[i]
            out_pools = {p: v for p, v in pools.items() if p not in in_block}
            label = s.method.driver_label or ""
            no = self.pos[s.id] + 1
            for o in origins:
                x = totals[o][i]
                if x == 0:
                    continue
                for (tk, tid), v in finals.items():
                    self.add(RowKey(no, s.id, s.name, o, s.method.kind, label, tk, tid), x * v, s.id)
                for p, v in out_pools.items():
                    self.send(p, o, x * v)
        self.traced(ids, prepared, totals)
        self.done.update(ids)

    def traced(self, ids: list[str], prepared: list[tuple[dict[tuple[str, str], Decimal], methods.Shares]],
               totals: dict[str, list[Decimal]]) -> None:
        """Hook after a block: its steps, each step's final/pool shares and the amount per origin it shared
        (solved, for a reciprocal group). Does nothing here; engine/allocation/explain.py records it."""


def _blocks(rs: RuleSet) -> list[tuple[int, list[Step]]]:
    out: list[tuple[int, list[Step]]] = []
    i = 0
    while i < len(rs.steps):
        s = rs.steps[i]
        if s.reciprocal_group:
            j = i
            while j < len(rs.steps) and rs.steps[j].reciprocal_group == s.reciprocal_group:
                j += 1
            out.append((i, rs.steps[i:j]))
            i = j
        else:
            out.append((i, [s]))
            i += 1
    return out


def run_cascade(rs: RuleSet, data: PoolData) -> Rows:
    """Unrounded result rows; their amounts per source pool add up to that pool's source total."""
    return run_flow(_Flow(rs, data))


def run_flow(flow: _Flow) -> Rows:
    """The cascade over `flow` (a _Flow, or a subclass that records what it does: explain.py)."""
    rs, data = flow.rs, flow.data
    with localcontext() as ctx:
        ctx.prec = PRECISION
        unmatched = data.pool_totals.get(UNMATCHED, Decimal(0))
        if unmatched:
            flow.add(_unalloc_key(0, UNMATCHED, "lines no step claims", UNMATCHED, "unmatched", ""), unmatched,
                     UNMATCHED)
        for ex in data.exceptions:
            flow.exception(ex)
        for first, members in _blocks(rs):
            if len(members) == 1 and members[0].method.kind == "direct":
                flow.direct(first + 1, members[0])
            else:
                flow.block(first, members)
        leftover = {sid: o for sid, o in flow.inflow.items() if sid not in flow.pos}
        if leftover:
            raise CascadeError(f"cost sent to unknown pools: {sorted(leftover)}")
        return dict(flow.rows)
