"""The showback → chargeback transition plan: shares by month, invoiced cents per unit, versions, the run rate."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import polars as pl
import pytest

from engine.access.users import User
from engine.allocation.runs import latest_run
from engine.costmodels import transition
from engine.errors import AccessDenied, InputError

FINOPS = User("fiona", "Fiona", "finops", None)


def test_phased_plan_invoices_a_share_each_month_to_the_cent() -> None:
    plan = transition.phased("move", ["BU1", "BU2"], "2026-11", [D(0), D(50), D(100)], 2)
    assert [(p.business_unit_id, p.effective_from, p.chargeback_pct) for p in plan.phases if p.business_unit_id
            == "BU1"] == [("BU1", "2026-11", D(0)), ("BU1", "2027-01", D(50)), ("BU1", "2027-03", D(100))]
    out = transition.impact(plan, {"BU1": D("1000.01"), "BU2": D("2000.00")}, transition.months("2026-11", 6))
    bu1 = out.filter(pl.col("business_unit_id") == "BU1").select(
        "period", "chargeback_pct", "invoiced", "showback_only", "change_vs_prior").rows()
    assert bu1 == [
        ("2026-11", D("0.00"), D("0.00"), D("1000.01"), D("0.00")),
        ("2026-12", D("0.00"), D("0.00"), D("1000.01"), D("0.00")),
        # 50 % of 1,000.01 = 500.005; the month's total 1,500.005 rounds to 1,500.01 and the cent goes to BU1
        ("2027-01", D("50.00"), D("500.01"), D("500.00"), D("500.01")),
        ("2027-02", D("50.00"), D("500.01"), D("500.00"), D("0.00")),
        ("2027-03", D("100.00"), D("1000.01"), D("0.00"), D("500.00")),
        ("2027-04", D("100.00"), D("1000.01"), D("0.00"), D("0.00")),
    ]
    jan = out.filter(pl.col("period") == "2027-01")
    assert jan["invoiced"].sum() == D("1500.01")
    assert (out["invoiced"] + out["showback_only"] == out["allocated"]).all()


def test_a_unit_without_phases_stays_on_showback() -> None:
    plan = transition.plan_from("pilot", [{"business_unit_id": "BU1", "effective_from": "2026-11",
                                           "chargeback_pct": "100"}])
    out = transition.impact(plan, {"BU1": D("10"), "BU2": D("20")}, ["2026-11"])
    assert out.select("business_unit_id", "invoiced", "showback_only").rows() == [
        ("BU1", D("10.00"), D("0.00")), ("BU2", D("0.00"), D("20.00"))]


def test_bad_plans_are_named() -> None:
    with pytest.raises(InputError, match="chargeback_pct"):
        transition.plan_from("x", [{"business_unit_id": "BU1", "effective_from": "2026-11", "chargeback_pct": 120}])
    with pytest.raises(InputError, match="effective_from"):
        transition.plan_from("x", [{"business_unit_id": "BU1", "effective_from": "Nov", "chargeback_pct": 10}])
    with pytest.raises(InputError, match="same month"):
        transition.plan_from("x", [{"business_unit_id": "BU1", "effective_from": "2026-11", "chargeback_pct": 10},
                                   {"business_unit_id": "BU1", "effective_from": "2026-11", "chargeback_pct": 20}])


def test_plans_are_versioned_and_audited(con: duckdb.DuckDBPyConnection) -> None:
    first = transition.save_plan(con, FINOPS, transition.phased("move", ["BU1"], "2026-11", [D(50)], 1))
    second = transition.save_plan(con, FINOPS, transition.phased("move", ["BU1"], "2026-12", [D(100)], 1))
    assert (first.version, second.version) == (1, 2)
    assert transition.load_plan(con, "move").phases[0].effective_from == "2026-12"
    assert transition.load_plan(con, "move", 1).phases[0].chargeback_pct == D("50.00")
    assert con.execute("SELECT entity_id FROM audit_event WHERE action = 'transition_plan.save' ORDER BY seq"
                       ).fetchall() == [("move@1",), ("move@2",)]
    with pytest.raises(AccessDenied):
        transition.save_plan(con, User("eve", "Eve", "executive", None), first)


def test_run_rate_is_the_latest_posted_run_without_the_unallocated_line(demo_con: duckdb.DuckDBPyConnection) -> None:
    period, by_bu = transition.run_rate(demo_con)
    run = latest_run(demo_con, period)
    expected = demo_con.execute("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ?"
                                " AND target_id <> 'UNALLOCATED'", [run]).fetchall()[0][0]
    assert period == demo_con.execute("SELECT max(period) FROM allocation_run WHERE status = 'posted'"
                                      ).fetchall()[0][0]
    assert sum(by_bu.values()) == expected and len(by_bu) >= 6
