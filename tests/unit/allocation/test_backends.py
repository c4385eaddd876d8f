"""The pool-source seam: a month close whose cost-line aggregation runs somewhere else posts the same cents.

The other place here is a real one: the store's tables exported to Parquet files and queried by a separate DuckDB
(the shape of a lakehouse source), not a stub that replays the store's answer.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from engine.allocation.backends.base import PoolRow, PoolSource
from engine.allocation.backends.duckdb_sql import DuckDBPoolSource
from engine.allocation.pools import load_pools
from engine.allocation.runs import run_allocation
from engine.masterdata.batches import Change, apply_batch
from engine.rules import versions

PERIOD = "2026-10"
TABLES = ("cost_line", "org_unit", "application", "account_owner", "asset", "master_data_batch", "master_data_change")


class ParquetPoolSource:
    """The pool query over Parquet copies of the store's tables, in a DuckDB of its own."""

    name = "parquet"

    def __init__(self, folder: Path) -> None:
        self.con = duckdb.connect()
        for t in TABLES:
            self.con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{folder / (t + '.parquet')}')")
        self.queries = 0

    def pool_rows(self, sql: str, params: list[Any]) -> list[PoolRow]:
        self.queries += 1
        return DuckDBPoolSource(self.con).pool_rows(sql, params)

    def cost_batches(self, period: str) -> tuple[str, ...]:
        return DuckDBPoolSource(self.con).cost_batches(period)


def _export(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    for t in TABLES:
        con.execute(f"COPY {t} TO '{folder / (t + '.parquet')}' (FORMAT parquet)")


def _posted(con: duckdb.DuckDBPyConnection, run_key: str) -> dict[tuple[str, str], Decimal]:
    rows = con.sql("SELECT target_id, source_pool, sum(posted_amount) FROM allocation_result WHERE run_key = ? "
                   "GROUP BY ALL", params=[run_key]).fetchall()
    return {(t, p): a for t, p, a in rows}


def test_a_month_close_from_another_source_posts_the_same_cents(demo_con: duckdb.DuckDBPyConnection,
                                                               tmp_path: Path) -> None:
    rs = versions.as_of(demo_con, "demo_default", PERIOD).rule_set
    _export(demo_con, tmp_path)
    lake = ParquetPoolSource(tmp_path)
    source: PoolSource = lake
    here = load_pools(demo_con, rs, PERIOD)
    there = load_pools(demo_con, rs, PERIOD, source=source)
    assert lake.queries == 1
    assert there.pool_totals == here.pool_totals and there.direct == here.direct
    assert there.cost_batches == here.cost_batches and there.input_lines == here.input_lines > 1000

    base = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    expected = _posted(demo_con, base.run_key)
    moved = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona", source=source)
    assert moved.run_key == base.run_key and moved.total_out == base.total_out
    assert _posted(demo_con, moved.run_key) == expected and sum(expected.values()) == base.total_out


def test_owners_as_of_the_month_are_read_from_the_other_source_too(demo_con: duckdb.DuckDBPyConnection,
                                                                    tmp_path: Path) -> None:
    """A batch effective after the period: the pool query reads the owners as of the period, there as here."""
    base = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    owner = demo_con.sql("SELECT provider, sub_account_id, cost_center_id FROM account_owner ORDER BY ALL LIMIT 1"
                         ).fetchall()[0]
    other = demo_con.sql("SELECT min(unit_id) FROM org_unit WHERE kind = 'cost_center' AND unit_id <> ?",
                         params=[owner[2]]).fetchall()[0][0]
    apply_batch(demo_con, [Change("account_owner", f"{owner[0]}/{owner[1]}", "cost_center_id", other)], "2026-11",
                "fiona", "account handed over in November")
    _export(demo_con, tmp_path)
    there = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona", source=ParquetPoolSource(tmp_path))
    assert there.run_key == base.run_key and there.replaced       # October keeps October's owner
    assert _posted(demo_con, there.run_key) == _posted(demo_con, base.run_key)
