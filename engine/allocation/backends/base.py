"""The protocol a pool source implements, and the row it returns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple, Protocol


class PoolRow(NamedTuple):
    """One period × pool × link × target sum. `link`/`target` are set for direct steps (the line's owner), None
    for pools a later method spreads; `pool_total` repeats the pool's exact total on every row of that pool."""

    pool: str
    link: str | None
    target: str | None
    amount: Decimal
    lines: int
    pool_total: Decimal


class PoolSource(Protocol):
    """Executes the pool query over the period's cost lines and says which cost batches it read.

    The query reads cost_line, org_unit, application, account_owner and asset; when a master-data batch took
    effect after the period it also reads master_data_batch and master_data_change (owners as of the period,
    engine/masterdata/as_of.py). A source elsewhere must hold copies of those tables."""

    @property
    def name(self) -> str: ...

    def pool_rows(self, sql: str, params: list[Any]) -> list[PoolRow]:
        """Run `pools.pool_query`'s SQL (DuckDB dialect, `?` parameters) and return its rows, exact decimals."""
        ...

    def cost_batches(self, period: str) -> tuple[str, ...]:
        """The ingest batches holding the period's cost lines, sorted: part of the run key."""
        ...
