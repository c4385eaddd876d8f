"""Accepted disputes posted in a run: each one as its own pair of result rows that name the dispute.

An accepted dispute says "move AMOUNT of cost centre A's charge to B" (B is another cost centre or the explicit
unallocated line), and in which month's run (`adjust_period`). The run of that month posts, beside the cascade's
rows, one row of −AMOUNT to A and one of +AMOUNT to B, both in the pool `dispute:<id>` at step ADJUSTMENT_STEP with
the step name "Dispute <id> adjustment". The pool nets to zero cents, so the conservation check (source pools equal
posted cents; an extra pool must post 0) holds and the run total stays the bill. The adjustments enter the run key,
so accepting one more dispute makes a new run instead of silently replacing the old one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from engine.allocation.cascade import UNALLOCATED_KIND, RowKey
from engine.allocation.posting import Posted
from engine.allocation.rounding import to_cents
from engine.rules.model import UNALLOCATED

ADJUSTMENT_STEP = 1000          # after every cascade step
POOL_PREFIX = "dispute:"
METHOD = "dispute_adjustment"


@dataclass(frozen=True)
class Adjustment:
    dispute_id: str
    cost_center_id: str          # the disputing cost centre, charged less
    assign_kind: str             # cost_center or unallocated
    assign_to: str               # the cost centre charged more, or UNALLOCATED
    amount: Decimal              # positive, cents

    @property
    def pool(self) -> str:
        return POOL_PREFIX + self.dispute_id

    @property
    def step_name(self) -> str:
        return f"Dispute {self.dispute_id} adjustment"


def is_adjustment_pool(pool: str | None) -> bool:
    return bool(pool) and str(pool).startswith(POOL_PREFIX)


def for_period(con: duckdb.DuckDBPyConnection, period: str) -> list[Adjustment]:
    """The accepted disputes whose adjustment the run of `period` posts, in dispute order."""
    rows = con.execute(
        "SELECT dispute_id, cost_center_id, assign_kind, assign_to, amount FROM dispute"
        " WHERE status = 'accepted' AND adjust_period = ? ORDER BY dispute_id", [period]).fetchall()
    return [Adjustment(str(d), str(cc), str(kind), str(to), Decimal(amount)) for d, cc, kind, to, amount in rows]


def rows(adjustments: list[Adjustment]) -> list[Posted]:
    """Two posted rows per adjustment (−amount from the disputing cost centre, +amount to where it goes)."""
    out: list[Posted] = []
    for a in adjustments:
        cents = to_cents(a.amount)
        kind, target = ((UNALLOCATED_KIND, UNALLOCATED) if a.assign_kind == UNALLOCATED_KIND
                        else ("cost_center", a.assign_to))
        sid = f"dispute-{a.dispute_id}"
        out.append(Posted(RowKey(ADJUSTMENT_STEP, sid, a.step_name, a.pool, METHOD, "", "cost_center",
                                 a.cost_center_id), -a.amount, -cents))
        out.append(Posted(RowKey(ADJUSTMENT_STEP, sid, a.step_name, a.pool, METHOD, "", kind, target),
                          a.amount, cents))
    return out


def keyed(run_key: str, adjustments: list[Adjustment]) -> str:
    """The run key with the adjustments in it (unchanged when there are none, so other runs keep their keys)."""
    if not adjustments:
        return run_key
    payload = [[a.dispute_id, a.cost_center_id, a.assign_kind, a.assign_to, str(a.amount)] for a in adjustments]
    return hashlib.sha256((run_key + json.dumps(payload)).encode()).hexdigest()


def mark_posted(con: duckdb.DuckDBPyConnection, run_key: str, adjustments: list[Adjustment]) -> None:
    """Inside the run's transaction: each dispute names the run that posted its adjustment."""
    for a in adjustments:
        con.execute("UPDATE dispute SET posted_run_key = ? WHERE dispute_id = ?", [run_key, a.dispute_id])
