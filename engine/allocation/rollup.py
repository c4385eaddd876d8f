"""Roll posted cents up the org hierarchy: application → cost centre → business unit (via org_unit.parent_id).

One function serves both the posted runs and the what-if path, so both speak the same shape:
cost_center_id, business_unit_id, amount (Decimal cents). The explicit unallocated line keeps
cost_center_id = 'UNALLOCATED' so it is never hidden in a total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

import duckdb
import polars as pl

from engine.allocation.cascade import UNALLOCATED_KIND
from engine.allocation.pools import Org
from engine.allocation.run_org import org_of_run
from engine.rules.model import UNALLOCATED

MONEY = pl.Decimal(18, 2)


def by_cost_center(rows: Iterable[tuple[str, str, int]], org: Org) -> pl.DataFrame:
    """(target_kind, target_id, cents) → one row per (cost_center_id, business_unit_id), sorted."""
    acc: dict[tuple[str | None, str | None], int] = defaultdict(int)
    for kind, tid, cents in rows:
        if kind == UNALLOCATED_KIND:
            acc[(UNALLOCATED, None)] += cents
        else:
            acc[(org.cost_center_of(kind, tid), org.business_unit_of(kind, tid))] += cents
    keys = sorted(acc, key=lambda k: (k[0] or "", k[1] or ""))
    return pl.DataFrame(
        {
            "cost_center_id": [k[0] for k in keys],
            "business_unit_id": [k[1] for k in keys],
            "amount": [Decimal(acc[k]) / 100 for k in keys],
        },
        schema={"cost_center_id": pl.String, "business_unit_id": pl.String, "amount": MONEY},
    )


def by_business_unit(frame: pl.DataFrame) -> pl.DataFrame:
    return (frame.group_by("business_unit_id").agg(pl.col("amount").sum()).sort("business_unit_id", nulls_last=True))


def run_by_cost_center(con: duckdb.DuckDBPyConnection, run_key: str) -> pl.DataFrame:
    """A posted run, per cost centre and business unit."""
    rows = con.sql(
        "SELECT target_kind, target_id, CAST(sum(posted_amount) * 100 AS BIGINT) FROM allocation_result"
        " WHERE run_key = ? GROUP BY 1, 2",
        params=[run_key],
    ).fetchall()
    return by_cost_center(((k, t, int(c)) for k, t, c in rows), org_of_run(con, run_key))
