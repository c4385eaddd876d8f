"""Cents at posting: largest remainder, so every pool's posted cents add up exactly to its rounded source.

Shares stay unrounded through the cascade; rounding each row on its own would leak or invent cents. The
tie-break (equal remainders) is the row key, so the same inputs always post the same cents.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Mapping, Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from engine.errors import InputError

CENT = Decimal("0.01")
T = TypeVar("T", bound=Hashable)


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


def controlled(cells: Mapping[tuple[str, T], Decimal], pool_cents: Mapping[str, int]) -> dict[tuple[str, T], int]:
    """Round a pool × target table to cents so that every pool (row) sums exactly to its cents and, whenever the
    table allows it (it does for consistent margins, Bacharach's controlled rounding), every target (column)
    total is its own largest-remainder rounding. Each cell gets its floor or its ceiling.

    Why: per-pool largest remainder alone conserves each pool but can leave a target a cent or two off its exact
    total (the textbook's Machining would read 107,276.43); users check target totals, auditors check pools.
    """
    floors: dict[tuple[str, T], int] = {}
    fracs: dict[tuple[str, T], Decimal] = {}
    col_total: dict[T, Decimal] = defaultdict(Decimal)
    for (p, t), a in cells.items():
        c = a.scaleb(2)
        f = int(c.to_integral_value(rounding=ROUND_FLOOR))
        floors[(p, t)] = f
        fracs[(p, t)] = c - f
        col_total[t] += a
    targets = sorted(col_total)  # type: ignore[type-var]
    grand = sum((pool_cents.get(p, 0) for p in {p for p, _ in cells}), 0)
    col_cents = dict(zip(targets, largest_remainder([col_total[t] for t in targets], grand, targets), strict=True))
    row_need: dict[str, int] = {p: pool_cents.get(p, 0) for p in sorted({p for p, _ in cells})}
    col_need: dict[T, int] = dict(col_cents)
    for (p, t), f in floors.items():
        row_need[p] -= f
        col_need[t] -= f
    open_cells = sorted((k for k in cells if fracs[k] > 0), key=lambda k: (-fracs[k], k))
    up: set[tuple[str, T]] = set()
    for k in open_cells:  # greedy: most of the table is settled here
        p, t = k
        if row_need[p] > 0 and col_need[t] > 0:
            up.add(k)
            row_need[p] -= 1
            col_need[t] -= 1
    if any(v > 0 for v in row_need.values()):
        _augment(open_cells, up, row_need, col_need)
    out = {k: floors[k] + (1 if k in up else 0) for k in cells}
    for p in sorted(row_need):  # margins the table cannot meet (degenerate credits): the pool still conserves
        if row_need[p] != 0:
            mine = sorted(k for k in cells if k[0] == p)
            for k, cents in zip(mine, largest_remainder([cells[k] for k in mine], pool_cents.get(p, 0), mine),
                                strict=True):
                out[k] = cents
    return out


def _augment(open_cells: Sequence[tuple[str, T]], up: set[tuple[str, T]], row_need: dict[str, int],
             col_need: dict[T, int]) -> None:
    """Bipartite augmenting paths (pool → target by a cell not yet rounded up, target → pool by one that is)."""
    by_row: dict[str, list[T]] = defaultdict(list)
    by_col: dict[T, list[str]] = defaultdict(list)
    for p, t in open_cells:
        by_row[p].append(t)
        by_col[t].append(p)
    for p0 in sorted(row_need):
        while row_need[p0] > 0:
            prev: dict[object, tuple[str, T] | None] = {("r", p0): None}
            queue: deque[tuple[str, object]] = deque([("r", p0)])
            end: T | None = None
            found = False
            while queue and not found:
                side, node = queue.popleft()
                if side == "r":
                    for t in by_row[node]:  # type: ignore[index]
                        if (node, t) not in up and ("c", t) not in prev:
                            prev[("c", t)] = (node, t)  # type: ignore[assignment]
                            if col_need[t] > 0:
                                end, found = t, True
                                break
                            queue.append(("c", t))
                else:
                    for p in by_col[node]:  # type: ignore[index]
                        if (p, node) in up and ("r", p) not in prev:
                            prev[("r", p)] = (p, node)  # type: ignore[assignment]
                            queue.append(("r", p))
            if not found or end is None:
                return
            col_need[end] -= 1
            row_need[p0] -= 1
            node_key: object = ("c", end)
            while prev[node_key] is not None:
                cell = prev[node_key]
                assert cell is not None
                if node_key[0] == "c":  # type: ignore[index]
                    up.add(cell)
                    node_key = ("r", cell[0])
                else:
                    up.discard(cell)
                    node_key = ("c", cell[1])
