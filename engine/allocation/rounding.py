"""Cents at posting: one controlled rounding of a period's pool × target table, solved as a min-cost flow.

Shares stay unrounded through the cascade; rounding each row on its own would leak or invent cents. The table is
rounded once, for the whole period:

- every (pool, target) cell is its exact amount rounded down or up to the cent (its floor or its ceiling);
- the cells add up exactly to each pool's, each target's and the period's posted totals;
- each pool posts either the cents it is given (`pool_cents`: posting gives each pool its source total in cents,
  which the conservation check re-reads) or, when left free, its floor or ceiling, with the period posting the
  bill's rounding (the exact grand total to the cent, half-even);
- each target posts its floor or its ceiling (within a cent of its exact total) — always when the pools are free,
  and whenever the given pool cents allow it (they nearly always do; see `TableRounding.outside`);
- among all roundings meeting these, as few targets as possible are off their nearest cent (more than half a cent
  from their exact total): every target that is off is forced.

The flow: source → pool (the cents the pool hands out above its cells' floors: fixed, or floor..ceil), pool →
target (one arc of capacity 1 per cell with a fraction: "round this cell up"), target → sink (the target's floor as a
node demand, plus one optional cent for its ceiling, costed when that leaves its nearest cent). Floors are offsets,
so credits (negative cells) need nothing special and every capacity is 0 or 1. When given pool cents leave no
rounding with every target on its floor or ceiling, the bounds become costed rewards and penalties instead, so the
table still rounds, with the fewest cents beyond, rather than failing. Costs are lexicographic:

1. (that fallback only) cents a target lands beyond its floor..ceil;
2. targets off their nearest cent;
3. free pools off their nearest cent (pools are chosen jointly with the targets in the same flow, so the target
   count is the true minimum over every valid choice of pool totals; among those, pools stay on their nearest);
4. cells off their nearest cent.

Remaining ties fall to the solver (OR-tools' min-cost flow, engine/allocation/flow.py), which is deterministic for a
network built in the same order — the sorted (pool, target) key order — so the same inputs always post the same
cents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Generic, Protocol, TypeVar

from engine.allocation.flow import Network, Unfeasible
from engine.errors import AllocationError, InputError

CENT = Decimal("0.01")
HALF = Decimal("0.5")
_PREC = 100  # sums and floors of table cells in cents, exactly


class SortableKey(Hashable, Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


T = TypeVar("T", bound=SortableKey)


def to_cents(amount: Decimal) -> int:
    """Round a pool's exact source total to whole cents (banker's rounding, the accounting default)."""
    return int(amount.scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def largest_remainder(amounts: Sequence[Decimal], total_cents: int, keys: Sequence[Hashable]) -> list[int]:
    """Integer cents per amount summing to `total_cents`: floor each, then hand out the missing cents by largest
    remainder, ties broken by ascending key. Works for credits (negative amounts) too."""
    if len(amounts) != len(keys):
        raise InputError("amounts and keys differ in length")
    if not amounts:
        if total_cents != 0:
            raise InputError(f"{total_cents} cents to post but no rows to post them to")
        return []
    floors: list[int] = []
    remainders: list[Decimal] = []
    for a in amounts:
        c = a.scaleb(2)
        f = int(c.to_integral_value(rounding=ROUND_FLOOR))
        floors.append(f)
        remainders.append(c - f)
    missing = total_cents - sum(floors)
    n = len(amounts)
    order = sorted(range(n), key=lambda i: (-remainders[i], keys[i]))
    cents = list(floors)
    base, extra = divmod(missing, n)  # |missing| ≤ n in practice; divmod keeps it exact when it is not
    for i in range(n):
        cents[i] += base
    for i in order[:extra]:
        cents[i] += 1
    return cents


@dataclass(frozen=True)
class TableRounding(Generic[T]):
    """One period's rounded table, in cents, with what a user checks it against."""

    cells: dict[tuple[str, T], int]
    pools: dict[str, int]
    targets: dict[T, int]
    period: int
    pool_exact: dict[str, Decimal]  # in cents, unrounded
    target_exact: dict[T, Decimal]  # in cents, unrounded
    period_exact: Decimal  # in cents, unrounded
    off_nearest: tuple[T, ...]  # targets more than half a cent from exact: each forced, no valid rounding has fewer
    outside: tuple[T, ...]  # targets more than a cent from exact: only ever when given pool cents leave no choice

    @property
    def bill(self) -> int:
        """The exact grand total rounded to the cent (half-even): what the period posts when pools are free."""
        return _half_even(self.period_exact)


def _floor(c: Decimal) -> int:
    return int(c.to_integral_value(rounding=ROUND_FLOOR))


def _half_even(c: Decimal) -> int:
    return int(c.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _off_at(exact: Decimal, lo: int) -> tuple[int, int]:
    """(1 if the floor `lo` is off the nearest cent, 1 if the ceiling is); half a cent either way is nearest."""
    frac = exact - lo
    if frac == 0:
        return 0, 0
    return (1 if frac > HALF else 0), (1 if frac < HALF else 0)


def round_table(cells: Mapping[tuple[str, T], Decimal], pool_cents: Mapping[str, int] | None = None
                ) -> TableRounding[T]:
    """Round a pool × target table of exact amounts (in currency units, any precision, credits included) to cents.

    `pool_cents` fixes what each pool posts (a pool with cells but no entry posts 0); None lets each pool post its
    floor or ceiling and the period post the bill's rounding. Raises InputError when a pool's given cents cannot be
    reached with its cells on their floors and ceilings, or a pool with cents has no cells."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return _round_table(cells, pool_cents)


def _round_table(cells: Mapping[tuple[str, T], Decimal], pool_cents: Mapping[str, int] | None) -> TableRounding[T]:
    keys = sorted(cells)
    pools = sorted({p for p, _ in keys})
    targets = sorted({t for _, t in keys})
    if pool_cents is not None:
        empty = sorted(p for p, c in pool_cents.items() if c != 0 and p not in set(pools))
        if empty:
            raise InputError(f"pools with money but nothing to post it to: {empty}")
    floors: dict[tuple[str, T], int] = {}
    opened: list[tuple[tuple[str, T], Decimal]] = []
    pool_exact: dict[str, Decimal] = defaultdict(Decimal)
    target_exact: dict[T, Decimal] = defaultdict(Decimal)
    pool_floor: dict[str, int] = defaultdict(int)
    target_floor: dict[T, int] = defaultdict(int)
    pool_open: dict[str, int] = defaultdict(int)
    target_open: dict[T, int] = defaultdict(int)
    for k in keys:
        p, t = k
        c = cells[k].scaleb(2)
        f = _floor(c)
        floors[k] = f
        pool_exact[p] += c
        target_exact[t] += c
        pool_floor[p] += f
        target_floor[t] += f
        if c != f:
            opened.append((k, c - f))
            pool_open[p] += 1
            target_open[t] += 1
    period_exact = sum(pool_exact.values(), Decimal(0))

    # cents each pool hands out above its cells' floors: fixed, or a floor..ceil range with the period fixed
    supply: dict[str, tuple[int, int]] = {}
    for p in pools:
        if pool_cents is not None:
            need = pool_cents.get(p, 0) - pool_floor[p]
            if not 0 <= need <= pool_open[p]:
                raise InputError(
                    f"pool {p!r} must post {pool_cents.get(p, 0) / 100:.2f}, but its rows add to {pool_exact[p] / 100}"
                    f" and rounding each down or up reaches only {pool_floor[p] / 100:.2f} to"
                    f" {(pool_floor[p] + pool_open[p]) / 100:.2f}")
            supply[p] = (need, need)
        else:
            lo = _floor(pool_exact[p])
            supply[p] = (lo - pool_floor[p], lo + (0 if pool_exact[p] == lo else 1) - pool_floor[p])
    total = (sum(pool_cents.get(p, 0) for p in pools) if pool_cents is not None else _half_even(period_exact)) \
        - sum(pool_floor.values())

    up = _solve(opened, pools, targets, supply, total, pool_exact, pool_floor, target_exact, target_floor,
                target_open, free=pool_cents is None) if total else set()

    out = {k: floors[k] + (1 if k in up else 0) for k in keys}
    pool_tot: dict[str, int] = defaultdict(int)
    target_tot: dict[T, int] = defaultdict(int)
    for (p, t), cents in out.items():
        pool_tot[p] += cents
        target_tot[t] += cents
    result = TableRounding(
        cells=out, pools={p: pool_tot[p] for p in pools}, targets={t: target_tot[t] for t in targets},
        period=sum(out.values()), pool_exact=dict(pool_exact), target_exact=dict(target_exact),
        period_exact=period_exact,
        off_nearest=tuple(t for t in targets if abs(target_tot[t] - target_exact[t]) > HALF),
        outside=tuple(t for t in targets if abs(target_tot[t] - target_exact[t]) >= 1),
    )
    _check(result, pool_cents)
    return result


def _solve(opened: list[tuple[tuple[str, T], Decimal]], pools: list[str], targets: list[T],
           supply: dict[str, tuple[int, int]], total: int, pool_exact: dict[str, Decimal], pool_floor: dict[str, int],
           target_exact: dict[T, Decimal], target_floor: dict[T, int], target_open: dict[T, int], *, free: bool
           ) -> set[tuple[str, T]]:
    """The cells to round up: a min-cost flow of `total` units, one per cell rounded up.

    First with every floor..ceil as a hard bound (node demands for the floors, one optional arc for the ceiling):
    always feasible when pools are free, nearly always when their cents are given. When given pool cents leave no
    such rounding, again with the bounds as costed rewards and penalties, so the fewest cents land beyond them."""
    w_pool = len(opened) + 1  # more than every cell's nearest-cent cost together
    w_target = w_pool * (len(pools) + 1)  # more than every pool's nearest-cent cost together
    pnode = {p: ("pool", i) for i, p in enumerate(pools)}
    tnode = {t: ("target", j) for j, t in enumerate(targets)}
    source, sink = ("source",), ("sink",)
    bounds: dict[T, tuple[int, int, int]] = {}  # target → (cells up at its floor, at its ceiling, cost of ceiling)
    for t in targets:
        lo = _floor(target_exact[t]) - target_floor[t]
        hi = lo + (0 if target_exact[t] == lo + target_floor[t] else 1)
        off_lo, off_hi = _off_at(target_exact[t], target_floor[t] + lo)
        bounds[t] = (lo, hi, w_target * (off_hi - off_lo))
    cells = [(pnode[p], tnode[t], (1 if frac < HALF else 0) - (1 if frac > HALF else 0), (p, t))
             for (p, t), frac in opened]

    g = Network()
    floors_total = sum(lo for lo, _, _ in bounds.values())
    if free:
        g.node(source, demand=-(total - sum(lo for lo, _ in supply.values())))
    for p in pools:
        lo, hi = supply[p]
        g.node(pnode[p], demand=-lo)
        if free and hi > lo:
            off_lo, off_hi = _off_at(pool_exact[p], pool_floor[p] + lo)
            g.arc(source, pnode[p], hi - lo, w_pool * (off_hi - off_lo))
    for t in targets:
        lo, hi, cost = bounds[t]
        g.node(tnode[t], demand=lo)
        if hi > lo:
            g.arc(tnode[t], sink, 1, cost)
    g.node(sink, demand=total - floors_total)
    arcs = [(g.arc(u, v, 1, cost), cell) for u, v, cost, cell in cells]
    if total >= floors_total:
        try:
            flows = g.solve()
            return {cell for a, cell in arcs if flows[a]}
        except Unfeasible:
            if free:  # cannot happen: a fractional table always has a controlled rounding
                raise AllocationError("the period's cents cannot be rounded with every total on its floor or"
                                      " ceiling") from None

    big = w_target * (len(targets) + 1)  # more than everything else together: one cent beyond a floor..ceil
    m = Network()
    for p in pools:
        m.node(pnode[p], demand=-supply[p][0])
    for t in targets:
        lo, hi, cost = bounds[t]
        m.node(tnode[t], demand=0)
        if lo:
            m.arc(tnode[t], sink, lo, -big)
        if hi > lo:
            m.arc(tnode[t], sink, 1, cost)
        if target_open[t] > hi:
            m.arc(tnode[t], sink, target_open[t] - hi, big)
    m.node(sink, demand=total)
    arcs = [(m.arc(u, v, 1, cost), cell) for u, v, cost, cell in cells]
    flows = m.solve()
    return {cell for a, cell in arcs if flows[a]}


def _check(r: TableRounding[T], pool_cents: Mapping[str, int] | None) -> None:
    """Fail loudly rather than post a rounding that breaks a clause it promises."""
    problems: list[str] = []
    if pool_cents is not None:
        problems += [f"pool {p} posts {c} not {pool_cents.get(p, 0)}" for p, c in r.pools.items()
                     if c != pool_cents.get(p, 0)]
    else:
        problems += [f"pool {p} posts {c}, exact {r.pool_exact[p]}" for p, c in r.pools.items()
                     if abs(c - r.pool_exact[p]) >= 1]
        if r.period != r.bill:
            problems.append(f"period posts {r.period}, bill {r.bill}")
        if r.outside:
            problems.append(f"targets beyond a cent: {list(r.outside)[:5]}")
    if problems:
        raise AllocationError("rounding broke its guarantee: " + "; ".join(problems[:10]))


def controlled(cells: Mapping[tuple[str, T], Decimal], pool_cents: Mapping[str, int]) -> dict[tuple[str, T], int]:
    """Round a pool × target table to cents so that every pool (row) sums exactly to its given cents, every cell
    is its floor or ceiling, every target (column) total is its floor or ceiling whenever those pool cents allow
    it, and as few targets as possible are off their nearest cent (see `round_table`).

    Why: per-pool largest remainder alone conserves each pool but can leave a target a cent or two off its exact
    total (the textbook's Machining would read 107,276.43); users check target totals, auditors check pools.
    """
    return round_table(cells, pool_cents).cells
