"""The run key covers every input the cascade reads: a master-data or driver edit without a new batch makes a new
run beside the old one (never 'replaced the earlier identical run'), and the diff shows where the money moved."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from engine.allocation.runs import run_allocation

PERIOD = "2026-10"


def _by_cc(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Decimal]:
    """Posted amounts per cost centre as each run recorded it (the org of that run, not today's)."""
    rows = con.sql("SELECT coalesce(cost_center_id, target_id), sum(posted_amount) FROM allocation_result "
                   "WHERE run_key = ? GROUP BY 1", params=[key]).fetchall()
    return {cc: amt for cc, amt in rows}


def test_moving_an_application_makes_a_new_run_and_the_diff_shows_the_move(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    before = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    again = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    assert again.run_key == before.run_key and again.replaced       # same inputs: the same run, replaced

    app, old_cc, charge = demo_con.sql(
        "SELECT a.app_id, a.cost_center_id, sum(r.posted_amount) FROM allocation_result r "
        "JOIN application a ON a.app_id = r.target_id AND r.target_kind = 'application' "
        "WHERE r.run_key = ? GROUP BY ALL ORDER BY 3 DESC LIMIT 1", params=[before.run_key]).fetchall()[0]
    new_cc = demo_con.sql("SELECT min(unit_id) FROM org_unit WHERE kind = 'cost_center' AND unit_id <> ?",
                          params=[old_cc]).fetchall()[0][0]
    demo_con.execute("UPDATE application SET cost_center_id = ? WHERE app_id = ?", [new_cc, app])
    moved = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")

    assert moved.run_key != before.run_key and not moved.replaced
    keys = {r[0] for r in demo_con.sql("SELECT run_key FROM allocation_run WHERE period = ?",
                                       params=[PERIOD]).fetchall()}
    assert {before.run_key, moved.run_key} <= keys                    # both runs stay, so they can be compared
    a, b = _by_cc(demo_con, before.run_key), _by_cc(demo_con, moved.run_key)
    assert sum(a.values()) == sum(b.values()) == moved.total_out
    changed = {cc: b.get(cc, Decimal(0)) - a.get(cc, Decimal(0)) for cc in set(a) | set(b)
               if b.get(cc, Decimal(0)) != a.get(cc, Decimal(0))}
    assert charge > 0 and changed == {old_cc: -charge, new_cc: charge}  # exactly the application's charge moved


def test_editing_a_driver_quantity_in_place_makes_a_new_run(demo_con: duckdb.DuckDBPyConnection) -> None:
    before = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    driver, target = demo_con.sql("SELECT driver, target_id FROM driver_value WHERE period = ? ORDER BY ALL LIMIT 1",
                                  params=[PERIOD]).fetchall()[0]
    demo_con.execute("UPDATE driver_value SET quantity = quantity * 2 + 1 WHERE period = ? AND driver = ? "
                     "AND target_id = ?", [PERIOD, driver, target])
    after = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    assert after.run_key != before.run_key and not after.replaced
