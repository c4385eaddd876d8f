"""Each method on numbers a user can check by hand, through a real run on a real store."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from engine.allocation import rollup
from engine.allocation.runs import run_allocation
from engine.rules import model
from tests.unit.allocation_data import PERIOD, add_driver, add_lines, add_org, posted_by_target

D = Decimal


def _one_step(method: dict[str, object], **step: object) -> model.RuleSet:
    return model.from_data({"name": "m", "steps": [{"id": "s", "name": "S", "method": method} | step]})


def test_direct_fallback_chain_tag_account_cmdb_unallocated(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"CC1": "BU1", "CC2": "BU1", "CC3": "BU1"}, ["BU1"])
    con.execute("INSERT INTO account_owner VALUES ('aws', '111', 'CC2', NULL)")
    con.execute("INSERT INTO asset (asset_id, serial, class, cost_center_id) VALUES ('i-abc', 'SN1', 'server', 'CC3')")
    con.execute("INSERT INTO asset (asset_id, serial, class, cost_center_id) VALUES ('AST-9', 'SN9', 'server', 'CC1')")
    add_lines(con, [
        {"tag_cost_center": "CC1", "sub_account_id": "111", "effective_cost": 100},  # valid tag wins
        {"tag_cost_center": "cc-12", "sub_account_id": "111", "effective_cost": 40},  # invalid tag → account owner
        {"resource_id": "i-abc", "sub_account_id": "999", "effective_cost": 7},  # CMDB by asset id
        {"resource_id": "SN9", "sub_account_id": "999", "effective_cost": 3},  # CMDB by serial
        {"resource_id": "nobody", "sub_account_id": "999", "effective_cost": "2.5"},  # → UNALLOCATED
    ])
    key = run_allocation(con, PERIOD, _one_step({"kind": "direct"})).run_key
    rows = con.sql("SELECT target_id, driver, posted_amount FROM allocation_result WHERE run_key = ? ORDER BY 1, 2",
                   params=[key]).fetchall()
    assert rows == [("CC1", "cmdb", D("3.00")), ("CC1", "tag", D("100.00")), ("CC2", "account_owner", D("40.00")),
                    ("CC3", "cmdb", D("7.00")), ("UNALLOCATED", "unresolved", D("2.50"))]


def test_proportional_weighted_even_fixed(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"A": None, "B": None, "C": None})
    add_lines(con, [{"service_name": "net", "effective_cost": 100}])
    add_driver(con, "headcount", {"A": 1, "B": 3, "C": 0})
    add_driver(con, "revenue", {"A": 3, "B": 1})
    filt = {"filters": [{"field": "service_name", "value": "net"}]}
    cases = [
        ({"kind": "driver", "driver": "headcount"}, {"A": "25.00", "B": "75.00"}),
        ({"kind": "weighted", "weights": {"headcount": 0.5, "revenue": 0.5}}, {"A": "50.00", "B": "50.00"}),
        ({"kind": "weighted", "weights": {"headcount": 1, "revenue": 3, "iops": 5}}, {"A": "62.50", "B": "37.50"}),
        ({"kind": "even"}, {"A": "33.34", "B": "33.33", "C": "33.33"}),
        ({"kind": "fixed", "split": {"A": 12.5, "C": 87.5}}, {"A": "12.50", "C": "87.50"}),
    ]
    for method, want in cases:
        key = run_allocation(con, PERIOD, _one_step(method, source=filt)).run_key
        assert posted_by_target(con, key) == {k: D(v) for k, v in want.items()}, method


def test_no_driver_data_goes_to_the_explicit_unallocated_line(con: duckdb.DuckDBPyConnection) -> None:
    add_lines(con, [{"effective_cost": "10.01"}])
    key = run_allocation(con, PERIOD, _one_step({"kind": "driver", "driver": "seats"})).run_key
    assert posted_by_target(con, key) == {"UNALLOCATED": D("10.01")}


def test_allocated_untagged_by_tagged_spend_with_credits(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"A": None, "B": None})
    add_lines(con, [
        {"tag_cost_center": "A", "effective_cost": 300}, {"tag_cost_center": "B", "effective_cost": 100},
        {"tag_cost_center": "B", "effective_cost": -20, "charge_category": "Credit"},
        {"effective_cost": 76},  # untagged
    ])
    rs = model.from_data({"name": "u", "steps": [
        {"id": "tagged", "name": "Tagged", "method": {"kind": "direct", "fallback": ["tag"]},
         "unallocated": "step:spread"},
        {"id": "spread", "name": "Untagged by tagged", "source": {"kind": "none"},
         "method": {"kind": "allocated", "from_steps": ["tagged"]}},
    ]})
    summary = run_allocation(con, PERIOD, rs)
    assert posted_by_target(con, summary.run_key) == {"A": D("360.00"), "B": D("96.00")}  # 76 split 300:80
    assert summary.total_out == D("456.00") and summary.unallocated == 0


def test_exception_list_pooled_resource_visible_in_results(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"A": None, "B": None})
    add_lines(con, [{"resource_id": "lb-shared", "tag_cost_center": "A", "effective_cost": 50},
                    {"resource_id": "vm-1", "tag_cost_center": "A", "effective_cost": 10}])
    con.execute("INSERT INTO exception VALUES ('EX1', 'resource_id', 'lb-shared',"
                " '{\"method\": \"fixed\", \"split\": {\"A\": 60, \"B\": 40}}', 'shared load balancer', 'bob',"
                " '2025-01', NULL)")
    key = run_allocation(con, PERIOD, _one_step({"kind": "direct"})).run_key
    rows = con.sql("SELECT step, step_name, source_pool, method, target_id, posted_amount FROM allocation_result"
                   " WHERE run_key = ? ORDER BY 1, 5", params=[key]).fetchall()
    assert rows == [
        (0, "exception EX1: shared load balancer", "exception:EX1", "exception:fixed", "A", D("30.00")),
        (0, "exception EX1: shared load balancer", "exception:EX1", "exception:fixed", "B", D("20.00")),
        (1, "S", "s", "direct", "A", D("10.00")),
    ]


def test_granularity_applications_roll_up_to_cost_centre_and_business_unit(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"CC1": "BU1", "CC2": "BU2"}, ["BU1", "BU2"])
    con.execute("INSERT INTO application VALUES ('APP1', 'Web', NULL, 'CC1', NULL, NULL),"
                " ('APP2', 'Batch', NULL, 'CC1', NULL, NULL), ('APP3', 'CRM', NULL, 'CC2', NULL, NULL)")
    add_lines(con, [{"effective_cost": 90}])
    add_driver(con, "cpu_hours", {"APP1": 1, "APP2": 1, "APP3": 1}, kind="application")
    key = run_allocation(con, PERIOD, _one_step({"kind": "driver", "driver": "cpu_hours"},
                                                target_kind="application")).run_key
    frame = rollup.run_by_cost_center(con, key)
    assert frame.rows() == [("CC1", "BU1", D("60.00")), ("CC2", "BU2", D("30.00"))]
    assert rollup.by_business_unit(frame).rows() == [("BU1", D("60.00")), ("BU2", D("30.00"))]


def test_billed_basis(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"A": None})
    add_lines(con, [{"tag_cost_center": "A", "billed_cost": 0, "effective_cost": "41.10"},
                    {"tag_cost_center": "A", "billed_cost": 500, "effective_cost": 0, "charge_category": "Purchase"}])
    rs = _one_step({"kind": "direct"})
    assert run_allocation(con, PERIOD, rs).total_out == D("41.10")
    assert run_allocation(con, PERIOD, rs, basis="billed").total_out == D("500.00")


def test_exception_treatments_and_validity(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"A": "BU1", "B": "BU2"}, ["BU1", "BU2"])
    add_driver(con, "iops", {"A": 1, "B": 4})
    add_lines(con, [{"resource_id": "db-shared", "effective_cost": 100}, {"sub_account_id": "lab", "effective_cost": 9},
                    {"service_name": "old-lb", "tag_cost_center": "A", "effective_cost": 7}])
    con.execute("INSERT INTO exception VALUES"
                " ('EX1', 'resource_id', 'db-shared', '{\"method\": \"driver\", \"driver\": \"iops\"}', 'shared DB',"
                "  'bob', NULL, NULL),"
                " ('EX2', 'sub_account_id', 'lab', '{\"method\": \"even\", \"target_kind\": \"business_unit\"}',"
                "  'innovation lab', 'bob', '2026-01', '2026-01'),"
                " ('EX3', 'service_name', 'old-lb', '{\"method\": \"unallocated\"}', 'expired', 'bob', NULL,"
                "  '2025-12')")
    key = run_allocation(con, PERIOD, _one_step({"kind": "direct"})).run_key
    rows = con.sql("SELECT source_pool, method, target_kind, target_id, posted_amount FROM allocation_result"
                   " WHERE run_key = ? ORDER BY 1, 4", params=[key]).fetchall()
    assert rows == [
        ("exception:EX1", "exception:driver", "cost_center", "A", D("20.00")),
        ("exception:EX1", "exception:driver", "cost_center", "B", D("80.00")),
        ("exception:EX2", "exception:even", "business_unit", "BU1", D("4.50")),
        ("exception:EX2", "exception:even", "business_unit", "BU2", D("4.50")),
        ("s", "direct", "cost_center", "A", D("7.00")),  # EX3 expired in 2025-12: the normal rules apply
    ]
