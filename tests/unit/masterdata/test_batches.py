"""Master-data batches: an application moved from a month on changes that month's run (new key, both runs kept,
the diff names the move) and leaves earlier months as they were — an as-of recompute uses the earlier org."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.allocation import run_org
from engine.allocation.diff import input_changes
from engine.allocation.pools import load_org
from engine.allocation.rollup import by_business_unit, run_by_cost_center
from engine.allocation.runs import run_allocation
from engine.errors import InputError, NotFound
from engine.masterdata.batches import Change, apply_batch, list_batches, read_changes_csv, revert_batch

PERIOD, EARLIER = "2026-10", "2026-09"


def _by_cc(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Decimal]:
    rows = con.sql("SELECT coalesce(cost_center_id, target_id), sum(posted_amount) FROM allocation_result "
                   "WHERE run_key = ? GROUP BY 1", params=[key]).fetchall()
    return {cc: amt for cc, amt in rows}


def _biggest_app(con: duckdb.DuckDBPyConnection, key: str) -> tuple[str, str, Decimal]:
    app, cc, charge = con.sql(
        "SELECT a.app_id, a.cost_center_id, sum(r.posted_amount) FROM allocation_result r "
        "JOIN application a ON a.app_id = r.target_id AND r.target_kind = 'application' "
        "WHERE r.run_key = ? GROUP BY ALL ORDER BY 3 DESC LIMIT 1", params=[key]).fetchall()[0]
    return str(app), str(cc), Decimal(charge)


def _other_cc(con: duckdb.DuckDBPyConnection, cc: str) -> str:
    return str(con.sql("SELECT min(unit_id) FROM org_unit WHERE kind = 'cost_center' AND unit_id <> ?",
                       params=[cc]).fetchall()[0][0])


def test_a_batch_moves_an_application_from_its_month_on_and_the_diff_names_the_move(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    earlier = run_allocation(demo_con, EARLIER, "demo_default", actor="fiona")
    before = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    app, old_cc, _ = _biggest_app(demo_con, before.run_key)
    charge = _by_cc(demo_con, before.run_key)
    app_charge = Decimal(demo_con.sql("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ? "
                                      "AND target_kind = 'application' AND target_id = ?",
                                      params=[before.run_key, app]).fetchall()[0][0])
    new_cc = _other_cc(demo_con, old_cc)

    result = apply_batch(demo_con, [Change("application", app, "cost_center_id", new_cc)], PERIOD, "fiona",
                         "Reorg: the app moves to its new owner")
    assert [(c.old_value, c.new_value) for c in result.changes] == [(old_cc, new_cc)]
    assert PERIOD in result.posted_periods_affected and EARLIER not in result.posted_periods_affected

    moved = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    assert moved.run_key != before.run_key and not moved.replaced
    kept = {r[0] for r in demo_con.sql("SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'",
                                       params=[PERIOD]).fetchall()}
    assert {before.run_key, moved.run_key} <= kept                          # both runs stay
    after = _by_cc(demo_con, moved.run_key)
    delta = {cc: after.get(cc, Decimal(0)) - charge.get(cc, Decimal(0)) for cc in set(after) | set(charge)}
    assert {cc: d for cc, d in delta.items() if d} == {old_cc: -app_charge, new_cc: app_charge}
    names = dict(demo_con.sql("SELECT unit_id, name FROM org_unit UNION ALL SELECT app_id, name FROM application")
                 .fetchall())
    assert input_changes(demo_con, before.run_key, moved.run_key) == [
        f"Application {app} ({names[app]}): cost centre {old_cc} ({names[old_cc]}) → {new_cc} ({names[new_cc]})"]

    # the earlier month still belongs to the earlier org: the same inputs, hence the same run, recomputed
    assert load_org(demo_con, EARLIER).app_cc[app] == old_cc and load_org(demo_con, PERIOD).app_cc[app] == new_cc
    recomputed = run_allocation(demo_con, EARLIER, "demo_default", actor="fiona")
    assert recomputed.run_key == earlier.run_key and recomputed.replaced
    assert demo_con.sql("SELECT DISTINCT cost_center_id FROM allocation_result WHERE run_key = ? AND target_id = ?",
                        params=[earlier.run_key, app]).fetchall() == [(old_cc,)]

    events = demo_con.sql("SELECT actor, detail->>'$.reason' FROM audit_event WHERE action = 'masterdata.apply'"
                          ).fetchall()
    assert events == [("fiona", "Reorg: the app moves to its new owner")]


def test_a_reverted_batch_gives_back_the_original_run(demo_con: duckdb.DuckDBPyConnection) -> None:
    before = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    app, old_cc, _ = _biggest_app(demo_con, before.run_key)
    batch = apply_batch(demo_con, [Change("application", app, "cost_center_id", _other_cc(demo_con, old_cc))],
                        PERIOD, "fiona", "try the move")
    assert run_allocation(demo_con, PERIOD, "demo_default", actor="fiona").run_key != before.run_key
    revert_batch(demo_con, batch.batch_no, "fiona", "the move was wrong")
    assert demo_con.sql("SELECT cost_center_id FROM application WHERE app_id = ?", params=[app]).fetchall() == [
        (old_cc,)]
    again = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    assert again.run_key == before.run_key and again.replaced
    listed = list_batches(demo_con).row(0, named=True)
    assert listed["batch_no"] == batch.batch_no and listed["reverted_by"] == "fiona" and listed["changes"] == 1
    with pytest.raises(InputError, match="already reverted"):
        revert_batch(demo_con, batch.batch_no, "fiona", "twice")


def test_a_cost_centre_moved_to_another_business_unit_leaves_old_runs_rolled_up_as_posted(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    earlier = run_allocation(demo_con, EARLIER, "demo_default", actor="fiona")
    before = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    bu_before = by_business_unit(run_by_cost_center(demo_con, earlier.run_key))
    cc, bu = demo_con.sql("SELECT unit_id, parent_id FROM org_unit WHERE kind = 'cost_center' ORDER BY 1 LIMIT 1"
                          ).fetchall()[0]
    other_bu = demo_con.sql("SELECT min(unit_id) FROM org_unit WHERE kind = 'business_unit' AND unit_id <> ?",
                            params=[bu]).fetchall()[0][0]
    apply_batch(demo_con, [Change("org_unit", cc, "parent_id", other_bu)], PERIOD, "fiona", "division merged")
    assert load_org(demo_con, EARLIER).parent[cc] == bu and load_org(demo_con, PERIOD).parent[cc] == other_bu
    assert by_business_unit(run_by_cost_center(demo_con, earlier.run_key)).equals(bu_before)
    moved = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    assert by_business_unit(run_by_cost_center(demo_con, moved.run_key))["amount"].sum() == moved.total_out
    assert moved.run_key != before.run_key
    names = dict(demo_con.sql("SELECT unit_id, name FROM org_unit").fetchall())
    assert run_org.moves(demo_con, before.run_key, moved.run_key) == [
        f"Cost centre {cc} ({names[cc]}): business unit {bu} ({names[bu]}) → {other_bu} ({names[other_bu]})"]
    after_bu = dict(by_business_unit(run_by_cost_center(demo_con, moved.run_key)).iter_rows())
    before_bu = dict(by_business_unit(run_by_cost_center(demo_con, before.run_key)).iter_rows())
    cc_charge = _by_cc(demo_con, moved.run_key)[cc]
    assert after_bu[other_bu] - before_bu[other_bu] == before_bu[bu] - after_bu.get(bu, 0) == cc_charge


def test_batches_apply_in_effective_order_and_refuse_what_cannot_be_read_for_sure(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    app, cc = demo_con.sql("SELECT app_id, cost_center_id FROM application ORDER BY 1 LIMIT 1").fetchall()[0]
    other = _other_cc(demo_con, cc)
    with pytest.raises(InputError, match="already"):
        apply_batch(demo_con, [Change("application", app, "cost_center_id", cc)], PERIOD, "fiona", "no-op")
    with pytest.raises(InputError, match="not a cost centre"):
        apply_batch(demo_con, [Change("application", app, "cost_center_id", "CC-NOPE")], PERIOD, "fiona", "typo")
    with pytest.raises(NotFound, match="APP-NOPE"):
        apply_batch(demo_con, [Change("application", "APP-NOPE", "cost_center_id", other)], PERIOD, "fiona", "x")
    with pytest.raises(InputError, match="cannot be changed"):
        apply_batch(demo_con, [Change("application", app, "name", "renamed")], PERIOD, "fiona", "x")
    with pytest.raises(InputError, match="reason"):
        apply_batch(demo_con, [Change("application", app, "cost_center_id", other)], PERIOD, "fiona", " ")
    with pytest.raises(InputError, match="YYYY-MM"):
        apply_batch(demo_con, [Change("application", app, "cost_center_id", other)], "10/2026", "fiona", "x")

    late = apply_batch(demo_con, [Change("application", app, "cost_center_id", other)], PERIOD, "fiona", "late")
    with pytest.raises(InputError, match=f"batch {late.batch_no}"):   # back-dating under a later change
        apply_batch(demo_con, [Change("application", app, "cost_center_id", cc)], EARLIER, "fiona", "early")
    third = _other_cc(demo_con, other)
    nxt = apply_batch(demo_con, [Change("application", app, "cost_center_id", third)], "2026-11", "fiona", "next")
    with pytest.raises(InputError, match=f"batch {nxt.batch_no}"):    # undo runs in reverse order
        revert_batch(demo_con, late.batch_no, "fiona", "out of order")
    assert [load_org(demo_con, p).app_cc[app] for p in (EARLIER, PERIOD, "2026-11")] == [cc, other, third]
    assert demo_con.sql("SELECT count(*) FROM master_data_batch").fetchall() == [(2,)]   # refusals wrote nothing


def test_a_batch_file_says_which_row_and_column_it_cannot_read(tmp_path: Path) -> None:
    good = tmp_path / "moves.csv"
    good.write_text("entity,key,field,value\napplication,APP001,cost_center_id,CC02\n"
                    "account_owner,aws/1234,app_id,\n", encoding="utf-8")
    assert read_changes_csv(good) == [Change("application", "APP001", "cost_center_id", "CC02"),
                                      Change("account_owner", "aws/1234", "app_id", None)]
    bad = tmp_path / "bad.csv"
    bad.write_text("entity,key,field,value\napplication,,cost_center_id,CC02\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv, row 2: column key is empty"):
        read_changes_csv(bad)
    header = tmp_path / "header.csv"
    header.write_text("entity,id,field,value\n", encoding="utf-8")
    with pytest.raises(InputError, match="header must be entity,key,field,value"):
        read_changes_csv(header)
