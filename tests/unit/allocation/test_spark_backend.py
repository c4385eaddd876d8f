"""The Spark backend posts what the store posts, row by row, to the cent.

Real Spark (local mode, one session for the module) over Parquet files written by export-lines; the same run on the
embedded store first, then on Spark, and every allocation_result row compared. Rule sets: the demo default on one
demo month, and generated ones (seeded) with a reciprocal group, tag filters (a map look-up), sub-cent and negative
lines, exceptions of every treatment, and direct steps whose fallback chains read every owner table.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pyspark.sql import SparkSession

from engine.allocation.backends import spark as spark_backend
from engine.allocation.backends.duckdb_sql import DuckDBPoolSource
from engine.allocation.backends.spark import SparkPoolSource, bind
from engine.allocation.pools import load_exceptions, pool_query
from engine.allocation.rounding import to_cents
from engine.allocation.runs import RunSummary, run_allocation
from engine.cli.export_lines import export_tables
from engine.errors import InputError
from engine.rules import model, versions
from tests.unit.allocation_data import PERIOD, add_driver, add_lines, add_org

DEMO_PERIOD = "2026-10"
CCS = ["HR", "DP", "RM", "Machining", "Assembly"]


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    with spark_backend.spark_session("local[2]") as session:
        yield session


def _pools(con: duckdb.DuckDBPyConnection, key: str) -> set[str]:
    return {r[0] for r in con.sql("SELECT DISTINCT source_pool FROM allocation_result WHERE run_key = ?",
                                  params=[key]).fetchall()}


def _rows(con: duckdb.DuckDBPyConnection, key: str) -> list[tuple[Any, ...]]:
    return con.sql("SELECT * EXCLUDE (run_key) FROM allocation_result WHERE run_key = ? ORDER BY ALL",
                   params=[key]).fetchall()


def _close_on_both(con: duckdb.DuckDBPyConnection, spark: SparkSession, folder: Path, period: str,
                   rule_set: str | model.RuleSet) -> tuple[RunSummary, list[tuple[Any, ...]]]:
    """Close on the store, then on Spark from the exported Parquet: the same run key, the same rows."""
    export_tables(con, period, folder)
    base = run_allocation(con, period, rule_set, actor="fiona")
    expected = _rows(con, base.run_key)
    source = SparkPoolSource.from_folder(spark, folder)
    moved = run_allocation(con, period, rule_set, actor="fiona", source=source)
    assert len(source.queries) == 2 and "`" in source.queries[0]   # the pool query and the batches, in Spark SQL
    assert moved.run_key == base.run_key and moved.replaced
    assert (moved.total_in, moved.total_out, moved.unallocated, moved.input_lines) == (
        base.total_in, base.total_out, base.unallocated, base.input_lines)
    assert _rows(con, moved.run_key) == expected
    return moved, expected


def _period_cents(con: duckdb.DuckDBPyConnection, period: str) -> int:
    return to_cents(con.sql("SELECT sum(effective_cost) FROM cost_line WHERE billing_period = ?",
                            params=[period]).fetchall()[0][0])


def _posted_cents(rows: list[tuple[Any, ...]], con: duckdb.DuckDBPyConnection, key: str) -> int:
    total = con.sql("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ?", params=[key]).fetchall()
    return int(total[0][0] * 100)


def test_demo_default_posts_the_same_rows_on_spark(demo_con: duckdb.DuckDBPyConnection, spark: SparkSession,
                                                   tmp_path: Path) -> None:
    summary, rows = _close_on_both(demo_con, spark, tmp_path, DEMO_PERIOD, "demo_default")
    assert len(rows) > 100 and summary.input_lines > 1000
    assert _posted_cents(rows, demo_con, summary.run_key) == _period_cents(demo_con, DEMO_PERIOD)
    # owners as of the month (the master-data history subqueries, QUALIFY rewritten for Spark): the same pool rows
    rs = versions.as_of(demo_con, "demo_default", DEMO_PERIOD).rule_set
    sql, params = pool_query(rs, load_exceptions(demo_con, DEMO_PERIOD), DEMO_PERIOD, "effective", DEMO_PERIOD)
    key = lambda r: tuple(map(str, r))  # noqa: E731 - links and targets may be NULL
    there = sorted(SparkPoolSource.from_folder(spark, tmp_path).pool_rows(sql, params), key=key)
    assert there == sorted(DuckDBPoolSource(demo_con).pool_rows(sql, params), key=key) and len(there) > 20


def _generated_lines(con: duckdb.DuckDBPyConnection, seed: int, n: int = 240) -> None:
    rnd = random.Random(seed)
    amounts = [lambda: Decimal(rnd.randint(-50_000_000_000, 900_000_000_000)).scaleb(-10),
               lambda: Decimal(rnd.randint(-500, 500)).scaleb(-2), lambda: rnd.choice(
                   [Decimal("0.005"), Decimal("-0.005"), Decimal("0.0049999999"), Decimal(0)])]
    lines = []
    for i in range(n):
        lines.append({
            "effective_cost": str(rnd.choice(amounts)()),
            "tag_cost_center": rnd.choice([*CCS, "cc-bad", None]),
            "tag_application": rnd.choice(["APP1", "APP2", "nope", None]),
            "service_name": rnd.choice(["compute", "storage", "network", "old-lb"]),
            "sub_account_id": rnd.choice(["s1", "s2", "lab", None]),
            "resource_id": rnd.choice([f"vm-{i}", "db-shared", "SER-1", "lb-shared", None]),
            "charge_category": rnd.choice(["Usage", "Usage", "Tax", "Credit"]),
            "resource_type": rnd.choice(["net", "k8s", "db"]),
            "batch_id": rnd.choice(["b1", "b2"]),
        })
    add_lines(con, lines)
    con.execute("UPDATE cost_line SET tags = map(['team'], [resource_type])")   # a normalised tags map


def _generated_org(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"HR": "BU1", "DP": "BU1", "RM": "BU2", "Machining": "BU2", "Assembly": "BU2"}, ["BU1", "BU2"])
    con.execute("INSERT INTO application VALUES ('APP1', 'Web', NULL, 'Machining', NULL, NULL),"
                " ('APP2', 'Batch', NULL, 'Assembly', NULL, NULL)")
    con.execute("INSERT INTO account_owner VALUES ('aws', 's1', 'RM', NULL), ('aws', 's2', 'Assembly', 'APP2')")
    con.execute("INSERT INTO asset (asset_id, serial, class, cost_center_id, app_id) VALUES"
                " ('vm-3', NULL, 'cloud_instance', 'DP', NULL), ('A-9', 'SER-1', 'server', 'Machining', 'APP1')")
    add_driver(con, "d1", {"Machining": 3, "Assembly": 1.25, "HR": 0.5})
    add_driver(con, "d2", {"Machining": 1, "Assembly": 2})


def test_generated_reciprocal_rule_set_posts_the_same_rows_on_spark(con: duckdb.DuckDBPyConnection,
                                                                    spark: SparkSession, tmp_path: Path) -> None:
    _generated_org(con)
    _generated_lines(con, seed=18)
    rs = model.from_data({"name": "gen-reciprocal", "mode": "step_down", "steps": [
        {"id": "net", "name": "Network", "source": {"filters": [{"field": "tag:team", "value": "net"}]},
         "method": {"kind": "driver", "driver": "d1"}},
        {"id": "hr", "name": "HR", "reciprocal_group": "services",
         "source": {"filters": [{"field": "tag_cost_center", "value": "HR"}]},
         "method": {"kind": "fixed", "split": {"step:dp": 20, "step:rm": 10, "Machining": 40, "Assembly": 30}}},
        {"id": "dp", "name": "DP", "reciprocal_group": "services",
         "source": {"filters": [{"field": "tag_cost_center", "value": "DP"}]},
         "method": {"kind": "fixed", "split": {"step:hr": 8, "step:rm": 7, "Machining": 30, "Assembly": 55}}},
        {"id": "rm", "name": "RM", "source": {"filters": [{"field": "tag_cost_center", "value": "RM"}]},
         "method": {"kind": "weighted", "weights": {"d1": 0.3, "d2": 0.7}}},
        {"id": "rest", "name": "Direct", "source": {"filters": []},
         "method": {"kind": "direct", "fallback": ["tag", "account_owner", "cmdb"]}},
    ]})
    summary, rows = _close_on_both(con, spark, tmp_path, PERIOD, rs)
    assert _pools(con, summary.run_key) >= {"net", "hr", "dp", "rm", "rest"}            # every pool posted something
    assert _posted_cents(rows, con, summary.run_key) == _period_cents(con, PERIOD)
    # a week-based fiscal period's window (date parameters bound as DATE literals): the same pool rows
    sql, params = pool_query(rs, [], PERIOD, "billed", None, (dt.date(2025, 12, 29), dt.date(2026, 2, 2)))
    key = lambda r: tuple(map(str, r))  # noqa: E731
    there = sorted(SparkPoolSource.from_folder(spark, tmp_path).pool_rows(sql, params), key=key)
    assert there == sorted(DuckDBPoolSource(con).pool_rows(sql, params), key=key) and there


def test_generated_rule_set_with_exceptions_posts_the_same_rows_on_spark(con: duckdb.DuckDBPyConnection,
                                                                         spark: SparkSession, tmp_path: Path) -> None:
    _generated_org(con)
    _generated_lines(con, seed=1918)
    con.execute(
        "INSERT INTO exception VALUES"
        " ('EX1', 'resource_id', 'lb-shared', '{\"method\": \"fixed\", \"split\": {\"HR\": 60, \"DP\": 40}}',"
        "  'shared load balancer', 'bob', NULL, NULL),"
        " ('EX2', 'resource_id', 'db-shared', '{\"method\": \"driver\", \"driver\": \"d1\"}', 'shared DB', 'bob',"
        "  NULL, NULL),"
        " ('EX3', 'sub_account_id', 'lab', '{\"method\": \"even\", \"target_kind\": \"business_unit\"}', 'lab',"
        "  'bob', '2026-01', '2026-01'),"
        " ('EX4', 'service_name', 'old-lb', '{\"method\": \"unallocated\"}', 'disputed', 'bob', NULL, NULL)")
    rs = model.from_data({"name": "gen-exceptions", "mode": "step_down", "steps": [
        {"id": "tax", "name": "Tax and credits",
         "source": {"filters": [{"field": "charge_category", "op": "in", "value": ["Tax", "Credit"]}]},
         "method": {"kind": "even"}},
        {"id": "apps", "name": "Applications",
         "source": {"filters": [{"field": "tag_application", "op": "starts_with", "value": "APP"}]},
         "method": {"kind": "direct", "fallback": ["application", "cmdb"]}, "target_kind": "application"},
        {"id": "store", "name": "Storage",
         "source": {"filters": [{"field": "service_name", "op": "contains", "value": "tor"},
                                {"field": "effective_cost", "op": "gt", "value": 0}]},
         "method": {"kind": "driver", "driver": "d2"}},
        {"id": "rest", "name": "Direct",
         "source": {"filters": [{"field": "tag_cost_center", "op": "not_in", "value": ["cc-bad"]}]},
         "method": {"kind": "direct", "fallback": ["tag", "application", "account_owner", "cmdb"]},
         "unallocated": "post"},
    ]})
    summary, rows = _close_on_both(con, spark, tmp_path, PERIOD, rs)
    pools = _pools(con, summary.run_key)
    assert {"exception:EX1", "exception:EX2", "exception:EX3", "tax", "apps", "store", "rest"} <= pools
    assert summary.unallocated != 0 or "exception:EX4" in pools


def test_parameters_are_bound_as_typed_literals_not_pasted() -> None:
    """A quote in a value stays inside its literal; a `?` inside a string is not a parameter; dates are DATEs."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (name VARCHAR, d DATE, x DECIMAL(38, 10))")
    con.execute("INSERT INTO t VALUES ('o''brien; DROP TABLE t', DATE '2026-01-05', 1.5), ('?', NULL, 2)")
    sql = "SELECT name, '?' AS q FROM t WHERE name = ? OR (d >= ? AND x > ?) OR x = ? ORDER BY 1"
    params: list[Any] = ["o'brien; DROP TABLE t", dt.date(2026, 1, 1), Decimal("1.25"), 2]
    bound = bind(sql, params, dialect="duckdb")
    assert con.sql(bound).fetchall() == con.sql(sql, params=params).fetchall() == [
        ("?", "?"), ("o'brien; DROP TABLE t", "?")]
    spark_sql = bind(sql, params)
    assert "CAST('2026-01-01' AS DATE)" in spark_sql and "x > 1.25" in spark_sql
    assert bind("SELECT element_at(l.tags, ?)[1] FROM cost_line l", ["team"]) == (
        "SELECT TRY_ELEMENT_AT(l.tags, 'team') FROM cost_line AS l")
    with pytest.raises(InputError, match="2 parameters but 1"):
        bind("SELECT ? + ?", [1])


def test_a_folder_without_a_table_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "cost_line.parquet").write_bytes(b"")
    with pytest.raises(InputError, match="lacks org_unit, application"):
        spark_backend.table_paths(tmp_path)
