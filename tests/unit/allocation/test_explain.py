"""Explain to the cent: a target's posted charge re-derived cell by cell, chain by chain, from the run's inputs."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

import duckdb
import pytest

from engine.access.users import User, get_user
from engine.allocation import explain as ex
from engine.allocation.runs import latest_run, run_allocation
from engine.errors import AccessDenied, AllocationError, NotFound
from engine.rules import versions
from tests.conftest import add_users
from tests.unit.allocation_data import PERIOD, add_org, textbook, textbook_lines

CENT = Decimal("0.01")
TINY = Decimal("1e-20")
RELATIVE = Decimal("1e-36")  # 40 significant digits, as the cascade computes


def _last_period(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT max(period) FROM allocation_run WHERE status = 'posted'").fetchall()[0][0])


def _auditor(con: duckdb.DuckDBPyConnection) -> User:
    user = get_user(con, "audrey")
    assert user is not None
    return user


def _stored_total(con: duckdb.DuckDBPyConnection, run_key: str, where: str, param: str) -> Decimal:
    row = con.execute(f"SELECT coalesce(sum(posted_amount), 0) FROM allocation_result WHERE run_key = ? AND {where}",
                      [run_key, param]).fetchall()
    return Decimal(row[0][0])


def _bu_of_cc(con: duckdb.DuckDBPyConnection, cc: str) -> str:
    return str(con.execute("SELECT parent_id FROM org_unit WHERE unit_id = ?", [cc]).fetchall()[0][0])


def _check_cells(e: ex.Explanation) -> None:
    with localcontext() as ctx:
        ctx.prec = 40
        _check(e)


def _check(e: ex.Explanation) -> None:
    assert e.cells
    for cell in e.cells:
        # each chain's exact amount is the product along it; the chains add up to the cell's exact amount
        for chain in cell.chains:
            assert abs(chain.product() - chain.exact) < TINY
            for hop in chain.hops:
                if hop.quantity is not None and hop.total_quantity and hop.share is not None \
                        and hop.method in ("driver", "allocated", "direct"):
                    assert abs(hop.quantity / hop.total_quantity - hop.share) <= hop.share * RELATIVE
        assert abs(sum((c.exact for c in cell.chains), Decimal(0)) - cell.exact) < TINY
        # the posted cents are the exact amount's floor or ceiling, and the adjustment is against half-even
        assert cell.posted in (cell.exact.quantize(CENT, ROUND_FLOOR), cell.exact.quantize(CENT, ROUND_CEILING))
        assert cell.adjustment == cell.posted - cell.nearest and abs(cell.adjustment) <= CENT
    assert e.posted_total == sum((c.posted for c in e.cells), Decimal(0))


def test_business_unit_cost_centre_and_application_add_up_to_their_posted_totals(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    period = _last_period(demo_con)
    key = latest_run(demo_con, period)
    assert key is not None
    user = _auditor(demo_con)
    app, cc = demo_con.execute(
        "SELECT app_id, cost_center_id FROM allocation_result WHERE run_key = ? AND target_kind = 'application'"
        " GROUP BY ALL ORDER BY sum(posted_amount) DESC LIMIT 1", [key]).fetchall()[0]
    bu = _bu_of_cc(demo_con, cc)

    e_app = ex.explain(demo_con, user, period, app)
    assert e_app.run_key == key and e_app.target_kind == "application"
    assert e_app.posted_total == _stored_total(demo_con, key, "app_id = ?", app) > 0
    _check_cells(e_app)
    # an application's shared-service money travels more than one step (e.g. network → backup → application)
    assert any(len(chain.hops) > 1 for cell in e_app.cells for chain in cell.chains)

    e_cc = ex.explain(demo_con, user, period, cc)
    assert e_cc.target_kind == "cost_center"
    assert e_cc.posted_total == _stored_total(demo_con, key, "cost_center_id = ?", cc)
    _check_cells(e_cc)

    e_bu = ex.explain(demo_con, user, period, bu)
    assert e_bu.target_kind == "business_unit"
    assert e_bu.posted_total == _stored_total(
        demo_con, key, "cost_center_id IN (SELECT unit_id FROM org_unit WHERE parent_id = ?)", bu)
    _check_cells(e_bu)
    assert e_bu.posted_total > e_cc.posted_total > e_app.posted_total


def test_every_demo_business_unit_re_derives(demo_con: duckdb.DuckDBPyConnection) -> None:
    period = _last_period(demo_con)
    user = _auditor(demo_con)
    bus = [u for k, u, _ in ex.targets(demo_con, user, period) if k == "business_unit"]
    assert len(bus) >= 3
    key = latest_run(demo_con, period)
    assert key is not None
    for bu in bus:
        e = ex.explain(demo_con, user, period, bu)
        _check_cells(e)
        assert e.posted_total == _stored_total(
            demo_con, key, "cost_center_id IN (SELECT unit_id FROM org_unit WHERE parent_id = ?)", bu)


def test_app_owner_is_refused_outside_their_scope(demo_con: duckdb.DuckDBPyConnection) -> None:
    period = _last_period(demo_con)
    omar = get_user(demo_con, "omar")
    assert omar is not None and omar.cost_centers
    own = sorted(omar.cost_centers)[0]
    assert ex.explain(demo_con, omar, period, own).target_id == own
    other = demo_con.execute("SELECT unit_id FROM org_unit WHERE kind = 'cost_center' AND unit_id NOT IN "
                             "(SELECT unnest(?::VARCHAR[])) ORDER BY 1 LIMIT 1", [sorted(omar.cost_centers)]
                             ).fetchall()[0][0]
    with pytest.raises(AccessDenied):
        ex.explain(demo_con, omar, period, other)
    with pytest.raises(AccessDenied):
        ex.explain(demo_con, omar, period, _bu_of_cc(demo_con, own))
    foreign_app = demo_con.execute("SELECT app_id FROM application WHERE cost_center_id = ? LIMIT 1",
                                   [other]).fetchall()
    if foreign_app:
        with pytest.raises(AccessDenied):
            ex.explain(demo_con, omar, period, foreign_app[0][0])
    with pytest.raises(AccessDenied):
        ex.explain(demo_con, None, period, own)
    assert all(k != "business_unit" for k, _, _ in ex.targets(demo_con, omar, period))


def test_unknown_target_and_changed_inputs_are_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    period = _last_period(demo_con)
    user = _auditor(demo_con)
    with pytest.raises(NotFound):
        ex.explain(demo_con, user, period, "NOPE-999")
    with pytest.raises(NotFound):
        ex.explain(demo_con, user, "1999-01", "CC015")
    # a driver quantity edited after posting: the stored run no longer re-derives, so nothing is explained
    demo_con.execute("UPDATE driver_value SET quantity = quantity * 2 WHERE period = ? AND driver = 'cpu_hours'"
                     " AND target_id = (SELECT min(target_id) FROM driver_value WHERE period = ?"
                     " AND driver = 'cpu_hours')", [period, period])
    with pytest.raises(AllocationError, match="changed since run"):
        ex.explain(demo_con, user, period, "CC015")


def test_textbook_step_down_hop_by_hop(con: duckdb.DuckDBPyConnection) -> None:
    """HR 80,000 → DP 20 % → Machining: 80,000 × 0.20 = 16,000 enters DP, whose 8 % back to HR is dropped, so
    Machining gets 30/92 of it (5,217.391304…); with DP's own 120,000 × 30/92 the DP → Machining cell is 39,130.43."""
    add_users(con, "finops", "alice", "bob")
    add_org(con, {"Machining": None, "Assembly": None, "HR": None, "DP": None, "RM": None})
    textbook_lines(con)
    version = versions.publish(con, textbook(), "alice", "bob", "textbook", PERIOD)
    run_allocation(con, PERIOD, "textbook", version)
    e = ex.explain(con, User("bob", "Bob", "finops", None), PERIOD, "Machining")
    _check_cells(e)
    cells = {c.source_pool: c for c in e.cells}
    assert set(cells) == {"hr", "dp", "rm"}
    hr = cells["hr"]
    # HR's money reaches Machining directly (40 %), via DP (20 % × 30/92), via RM (10 % × 50 %) and via DP → RM
    # (20 % × 7/92 × 50 %)
    routes = {tuple(h.step_id for h in c.hops): c for c in hr.chains}
    assert set(routes) == {("hr",), ("hr", "dp"), ("hr", "rm"), ("hr", "dp", "rm")}
    assert routes[("hr",)].hops[0].amount_in == Decimal(80_000)
    assert routes[("hr",)].hops[0].share == Decimal("0.4") and routes[("hr",)].exact == Decimal(32_000)
    via_dp = routes[("hr", "dp")]
    assert via_dp.hops[0].receiver_id == "dp" and via_dp.hops[0].amount == Decimal(16_000)
    assert via_dp.hops[1].amount_in == Decimal(16_000)
    assert via_dp.hops[1].quantity == Decimal(30) and via_dp.hops[1].total_quantity == Decimal(92)
    assert via_dp.exact.quantize(Decimal("1e-6")) == Decimal("5217.391304")
    via_dp_rm = routes[("hr", "dp", "rm")]
    assert via_dp_rm.exact.quantize(Decimal("1e-6")) == (Decimal(16_000) * 7 / 92 / 2).quantize(Decimal("1e-6"))
    assert hr.exact.quantize(CENT) == Decimal("32000") + Decimal("5217.39") + Decimal("4000") + Decimal("608.70")
    dp_direct = next(c for c in cells["dp"].chains if len(c.hops) == 1)
    assert dp_direct.exact.quantize(CENT) == Decimal("39130.43")   # 120,000 × 30/92
    assert e.posted_total == Decimal("105521.74")                 # the textbook's step-down answer


def test_textbook_reciprocal_shows_the_solved_totals(con: duckdb.DuckDBPyConnection) -> None:
    add_users(con, "finops", "alice", "bob")
    add_org(con, {"Machining": None, "Assembly": None})
    textbook_lines(con)
    version = versions.publish(con, textbook(group="services"), "alice", "bob", "textbook", PERIOD)
    run_allocation(con, PERIOD, "textbook", version)
    e = ex.explain(con, User("bob", "Bob", "finops", None), PERIOD, "Machining")
    _check_cells(e)
    assert e.posted_total == Decimal("107276.42")
    solves = {h.step_id: h for c in e.cells for ch in c.chains for h in ch.hops if h.method == "reciprocal"}
    assert set(solves) == {"hr", "dp", "rm"}
    assert all(h.share is None and "simultaneous" in h.note for h in solves.values())
