"""The embedded store as a pool source: the pool query runs where the cost lines live, in one DuckDB pass."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb

from engine.allocation.backends.base import PoolRow


class DuckDBPoolSource:
    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def pool_rows(self, sql: str, params: list[Any]) -> list[PoolRow]:
        return [PoolRow(str(pool), link, target, Decimal(amount), int(n), Decimal(total))
                for pool, link, target, amount, n, total in self.con.sql(sql, params=params).fetchall()]

    def cost_batches(self, period: str) -> tuple[str, ...]:
        rows = self.con.sql("SELECT DISTINCT batch_id FROM cost_line WHERE billing_period = ? ORDER BY 1",
                            params=[period]).fetchall()
        return tuple(str(r[0]) for r in rows)
