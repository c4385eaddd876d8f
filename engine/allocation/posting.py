"""Posting: unrounded cascade rows → cents, per source pool, by largest remainder."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, localcontext
from typing import NamedTuple

from engine.allocation.cascade import RowKey, Rows
from engine.allocation.rounding import controlled, largest_remainder, to_cents
from engine.errors import InputError

AMOUNT_QUANTUM = Decimal("1e-10")  # allocation_result.amount is DECIMAL(38, 10)


class Posted(NamedTuple):
    key: RowKey
    amount: Decimal  # unrounded; quantised to DECIMAL(38, 10) when written
    cents: int


def post(rows: Rows, pool_totals: dict[str, Decimal]) -> list[Posted]:
    with localcontext() as ctx:
        ctx.prec = 60  # cents of any DECIMAL(38, 10) amount, exactly
        return _post(rows, pool_totals)


def _post(rows: Rows, pool_totals: dict[str, Decimal]) -> list[Posted]:
    """Round once, at posting: for every source pool the posted cents equal the pool's source total in cents,
    and each target's total lands on its own nearest cents (controlled rounding of the pool × target table);
    within one pool and target, the steps share the cell's cents by largest remainder."""
    cells: dict[tuple[str, tuple[str, str]], Decimal] = defaultdict(Decimal)
    members: dict[tuple[str, tuple[str, str]], list[RowKey]] = defaultdict(list)
    for key in sorted(rows):
        cell = (key.source_pool, (key.target_kind, key.target_id))
        cells[cell] += rows[key]
        members[cell].append(key)
    pool_cents = {p: to_cents(v) for p, v in pool_totals.items()}
    posted_pools = {p for p, _ in cells}
    missing = sorted(p for p, c in pool_cents.items() if c != 0 and p not in posted_pools)
    if missing:
        raise InputError(f"pools with money but nothing posted: {missing}")
    cell_cents = controlled(cells, pool_cents)
    out: list[Posted] = []
    for cell in sorted(cells):
        keys = members[cell]
        if len(keys) == 1:
            cents = [cell_cents[cell]]
        else:
            cents = largest_remainder([rows[k] for k in keys], cell_cents[cell], keys)
        for key, c in zip(keys, cents, strict=True):
            out.append(Posted(key, rows[key], c))
    return out
