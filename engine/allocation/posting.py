"""Posting: unrounded cascade rows → cents, once per period, by controlled rounding of the pool × target table."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, localcontext
from typing import Literal, NamedTuple

from engine.allocation.cascade import RowKey, Rows
from engine.allocation.rounding import TableRounding, largest_remainder, round_table, to_cents
from engine.errors import InputError

AMOUNT_QUANTUM = Decimal("1e-10")  # allocation_result.amount is DECIMAL(38, 10)

Target = tuple[str, str]  # (target_kind, target_id)
PoolTotals = Literal["source", "free"]


class Posted(NamedTuple):
    key: RowKey
    amount: Decimal  # unrounded; quantised to DECIMAL(38, 10) when written
    cents: int


def post(rows: Rows, pool_totals: dict[str, Decimal], *, pools: PoolTotals = "source") -> list[Posted]:
    """One period's rows in cents (see `round_period`); within one pool and target, the steps share the cell's cents
    by largest remainder, ties broken by the row key."""
    with localcontext() as ctx:
        ctx.prec = 60  # cents of any DECIMAL(38, 10) amount, exactly
        return _post(rows, pool_totals, pools)


def round_period(rows: Rows, pool_totals: dict[str, Decimal], *, pools: PoolTotals = "source"
                 ) -> TableRounding[Target]:
    """The period's pool × target table rounded once (engine/allocation/rounding.py), with the exact totals a user
    checks it against and the targets it leaves off their nearest cent (each one forced).

    `pools="source"` (what month close and what-if post): every pool posts its source total in cents, which the
    conservation check re-reads; the period then posts the sum of those cents. `pools="free"`: every pool posts its
    floor or ceiling, chosen in the same flow, and the period posts the bill's rounding — only for a caller whose
    conservation check accepts those pool cents."""
    with localcontext() as ctx:
        ctx.prec = 60
        return _round(_cells(rows)[0], pool_totals, pools)


def _cells(rows: Rows) -> tuple[dict[tuple[str, Target], Decimal], dict[tuple[str, Target], list[RowKey]]]:
    cells: dict[tuple[str, Target], Decimal] = defaultdict(Decimal)
    members: dict[tuple[str, Target], list[RowKey]] = defaultdict(list)
    for key in sorted(rows):
        cell = (key.source_pool, (key.target_kind, key.target_id))
        cells[cell] += rows[key]
        members[cell].append(key)
    return dict(cells), dict(members)


def _round(cells: dict[tuple[str, Target], Decimal], pool_totals: dict[str, Decimal], pools: PoolTotals
           ) -> TableRounding[Target]:
    posted_pools = {p for p, _ in cells}
    missing = sorted(p for p, v in pool_totals.items() if to_cents(v) != 0 and p not in posted_pools)
    if missing:
        raise InputError(f"pools with money but nothing posted: {missing}")
    if pools == "free":
        return round_table(cells)
    return round_table(cells, {p: to_cents(v) for p, v in pool_totals.items()})


def _post(rows: Rows, pool_totals: dict[str, Decimal], pools: PoolTotals) -> list[Posted]:
    cells, members = _cells(rows)
    cell_cents = _round(cells, pool_totals, pools).cells
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
