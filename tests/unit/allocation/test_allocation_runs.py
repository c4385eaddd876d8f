"""Runs: idempotent by run key, atomic on failure, conservation enforced, as-of versions, diffs, what-if parity."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine import store
from engine.allocation import conservation, diff, rollup, whatif
from engine.allocation.runs import latest_run, run_allocation
from engine.errors import AllocationError
from engine.rules import model, versions
from engine.store import audit
from tests.conftest import add_users
from tests.unit.allocation_data import PERIOD, add_driver, add_lines, add_org, posted_by_target, textbook

D = Decimal


def _weighted(h: float = 0.5, r: float = 0.5) -> model.RuleSet:
    return model.from_data({"name": "w", "steps": [
        {"id": "desk", "name": "Service desk",
         "method": {"kind": "weighted", "weights": {"headcount": h, "revenue": r}}}
    ]})


def _setup(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"A": "BU", "B": "BU"}, ["BU"])
    add_lines(con, [{"effective_cost": "1000.005"}, {"effective_cost": "-0.004"}])
    add_driver(con, "headcount", {"A": 1, "B": 2})
    add_driver(con, "revenue", {"A": 5, "B": 1})


def test_rerun_replaces_never_adds(con: duckdb.DuckDBPyConnection) -> None:
    _setup(con)
    first = run_allocation(con, PERIOD, _weighted(), actor="fiona")
    rows1 = con.sql("SELECT * EXCLUDE (run_key) FROM allocation_result ORDER BY ALL").fetchall()
    second = run_allocation(con, PERIOD, _weighted(), actor="fiona")
    assert first.run_key == second.run_key and not first.replaced and second.replaced
    assert con.sql("SELECT * EXCLUDE (run_key) FROM allocation_result ORDER BY ALL").fetchall() == rows1
    assert con.sql("SELECT count(*) FROM allocation_run").fetchall()[0][0] == 1
    assert second.total_in == D("1000.001") and second.total_out == D("1000.00")
    assert latest_run(con, PERIOD, "w") == first.run_key
    posts = con.sql("SELECT count(*) FROM audit_event WHERE action = 'allocation.post'").fetchall()[0][0]
    assert posts == 2 and audit.verify(con).ok
    # new inputs (another batch) give a new run key; the earlier run stays for comparison
    add_lines(con, [{"effective_cost": 10, "batch_id": "b2"}])
    assert run_allocation(con, PERIOD, _weighted()).run_key != first.run_key


def test_failed_run_leaves_nothing_half_written(con: duckdb.DuckDBPyConnection) -> None:
    _setup(con)
    good = run_allocation(con, PERIOD, _weighted())
    add_lines(con, [{"effective_cost": D("1e20"), "batch_id": "huge"}])  # beyond DECIMAL(18, 2) posting
    before = store.table_checksums(con)["allocation_result"]
    with pytest.raises(AllocationError, match="failed"):
        run_allocation(con, PERIOD, _weighted())
    assert store.table_checksums(con)["allocation_result"] == before
    statuses = dict(con.sql("SELECT run_key, status FROM allocation_run").fetchall())
    assert statuses[good.run_key] == "posted" and sorted(statuses.values()) == ["failed", "posted"]
    assert con.sql("SELECT count(*) FROM audit_event WHERE action = 'allocation.fail'").fetchall()[0][0] == 1


def test_conservation_check_catches_a_changed_cent(con: duckdb.DuckDBPyConnection) -> None:
    _setup(con)
    key = run_allocation(con, PERIOD, _weighted()).run_key
    source = {"desk": D("1000.001")}
    conservation.check(con, key, source)
    con.execute("UPDATE allocation_result SET posted_amount = posted_amount + 0.01 WHERE run_key = ?"
                " AND target_id = 'A'", [key])
    with pytest.raises(conservation.ConservationError, match="desk: source 1000.00, posted 1000.01"):
        conservation.check(con, key, source)


def test_singular_reciprocal_group_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    add_lines(con, [{"service_name": "a", "effective_cost": 1}, {"service_name": "b", "effective_cost": 1}])
    rs = model.from_data({"name": "loop", "steps": [
        {"id": "a", "name": "A", "reciprocal_group": "g",
         "source": {"filters": [{"field": "service_name", "value": "a"}]},
         "method": {"kind": "fixed", "split": {"step:b": 100}}},
        {"id": "b", "name": "B", "reciprocal_group": "g",
         "source": {"filters": [{"field": "service_name", "value": "b"}]},
         "method": {"kind": "fixed", "split": {"step:a": 100}}},
    ]})
    with pytest.raises(AllocationError, match="singular"):
        run_allocation(con, PERIOD, rs)
    assert con.sql("SELECT count(*) FROM allocation_result").fetchall()[0][0] == 0


def test_closed_month_recomputes_with_the_version_in_force(con: duckdb.DuckDBPyConnection) -> None:
    _setup(con)
    add_users(con, "finops", "fiona", "bob")
    versions.publish(con, _weighted(1, 0).model_copy(update={"name": "desk"}), "fiona", "bob", "headcount", "2025-01")
    versions.publish(con, _weighted(0, 1).model_copy(update={"name": "desk"}), "fiona", "bob", "revenue", "2026-02")
    as_of = run_allocation(con, PERIOD, "desk")  # January: v1 (headcount) is in force
    assert as_of.rule_version == 1
    assert posted_by_target(con, as_of.run_key) == {"A": D("333.33"), "B": D("666.67")}
    forced = run_allocation(con, PERIOD, "desk", version=2)
    assert posted_by_target(con, forced.run_key) == {"A": D("833.33"), "B": D("166.67")}
    d = diff.diff_runs(con, as_of.run_key, forced.run_key)
    assert d.rows() == [("A", D("333.33"), D("833.33"), D("500.00"), "Service desk: 500.00"),
                        ("B", D("666.67"), D("166.67"), D("-500.00"), "Service desk: -500.00")]


def test_whatif_equals_the_line_level_run_with_the_same_parameters(con: duckdb.DuckDBPyConnection) -> None:
    _setup(con)
    prepared = whatif.prepare(con, PERIOD, _weighted())
    assert prepared.weighted_steps == {"desk": {"headcount": 0.5, "revenue": 0.5}}
    moved = {"desk": {"headcount": 0.2, "revenue": 0.8}}
    frame = whatif.evaluate(prepared, moved)
    run = run_allocation(con, PERIOD, _weighted(), params={"weights": moved})
    assert frame.equals(rollup.run_by_cost_center(con, run.run_key))
    assert frame["amount"].sum() == D("1000.00")
    explained = whatif.evaluate_rows(prepared, moved)
    assert set(explained["driver"]) == {"headcount=0.2,revenue=0.8"}


def test_textbook_diff_names_the_steps(con: duckdb.DuckDBPyConnection) -> None:
    from tests.unit.allocation_data import textbook_lines

    textbook_lines(con)
    a = run_allocation(con, PERIOD, textbook()).run_key
    b = run_allocation(con, PERIOD, textbook("direct")).run_key
    d = diff.diff_runs(con, a, b)
    machining = d.filter(d["target"] == "Machining").row(0, named=True)
    assert machining["delta"] == D("108067.23") - D("105521.74")
    # direct: HR sends Machining 40/70 instead of 40 %, RM no longer passes on HR's and DP's shares
    assert machining["causes"] == "HR: 13714.29; RM: -9173.92; DP: -1994.88"
