"""Disputes: an accepted dispute moves exactly its amount in the next month's run (own rows, traceable, the run
total still the bill) and the statement shows it; a rejected one changes nothing; scope, notifications, audit."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine.allocation import adjustments
from engine.allocation.runs import run_allocation
from engine.costmodels.presets import FULL_RECOVERY
from engine.errors import AccessDenied, InputError
from engine.improvement import disputes, notifications
from engine.outputs.statements import DISPUTE_SECTION, build_statement
from engine.store import audit
from tests.unit.allocation_data import posted_by_target
from tests.unit.improvement.helpers import FEB, JAN, setup, user

D = Decimal


def _line(con: duckdb.DuckDBPyConnection) -> disputes.LineRef:
    row = disputes.lines(con, user(con, "omar"), JAN, "A").row(0, named=True)
    assert row["amount"] == D("600.00")
    return disputes.LineRef(row["step"], row["step_name"], row["source_pool"], row["app_id"])


def test_accepted_dispute_adjusts_next_run_by_exactly_its_amount(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    jan = run_allocation(con, JAN, "desk", actor="fiona")
    before_feb = run_allocation(con, FEB, "desk", actor="fiona")
    assert posted_by_target(con, before_feb.run_key) == {"A": D("600.00"), "B": D("400.00")}
    d = disputes.raise_dispute(con, user(con, "omar"), JAN, "A", _line(con), "125.40", "desk tickets were B's",
                               "INC-1 .. INC-9")
    assert d.status == "open" and d.run_key == jan.run_key and d.line_amount == D("600.00")
    assert [n.subject for n in notifications.inbox(con, user(con, "fiona"))] == [f"Dispute {d.dispute_id} raised "
                                                                                 "on A 2026-01"]
    ok = disputes.accept(con, user(con, "fiona"), d.dispute_id, "agreed", assign_to="B")
    assert ok.adjust_period == FEB and ok.assign_to == "B"
    assert [n.subject for n in notifications.inbox(con, user(con, "omar"))] == [f"Dispute {d.dispute_id} accepted"]
    # the February run already posted does not carry it yet: the month needs its next run
    assert [x.dispute_id for x in disputes.awaiting_run(con, user(con, "fiona"))] == [d.dispute_id]

    feb = disputes.post_adjustments(con, user(con, "fiona"), FEB)
    assert feb.run_key != before_feb.run_key                      # the adjustment is an input of the run key
    assert posted_by_target(con, feb.run_key) == {"A": D("474.60"), "B": D("525.40")}
    assert feb.total_out == D("1000.00") == feb.total_in           # the run total stays the bill
    rows = con.execute("SELECT step_name, source_pool, target_id, posted_amount FROM allocation_result"
                       " WHERE run_key = ? AND source_pool = ? ORDER BY posted_amount",
                       [feb.run_key, adjustments.POOL_PREFIX + d.dispute_id]).fetchall()
    assert rows == [(f"Dispute {d.dispute_id} adjustment", f"dispute:{d.dispute_id}", "A", D("-125.40")),
                    (f"Dispute {d.dispute_id} adjustment", f"dispute:{d.dispute_id}", "B", D("125.40"))]
    assert disputes.get(con, user(con, "omar"), d.dispute_id).posted_run_key == feb.run_key
    assert not disputes.awaiting_run(con, user(con, "fiona"))
    # January's run is never edited
    assert posted_by_target(con, jan.run_key) == {"A": D("600.00"), "B": D("400.00")}

    st = build_statement(con, feb.run_key, "A", FULL_RECOVERY)
    adj = st.lines.filter(st.lines["section"] == DISPUTE_SECTION)
    assert adj.select("step_name", "amount").rows() == [(f"Dispute {d.dispute_id} adjustment", D("-125.40"))]
    assert st.allocated == D("474.60")
    assert f"Dispute {d.dispute_id} adjustment" in __import__("engine.outputs.statements",
                                                              fromlist=["to_html"]).to_html(st)
    actions = [r[0] for r in con.execute("SELECT action FROM audit_event WHERE entity = 'dispute' ORDER BY seq")
               .fetchall()]
    assert actions == ["dispute.raise", "dispute.accept"] and audit.verify(con).ok


def test_unallocated_assignment_moves_the_amount_to_the_unallocated_line(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    run_allocation(con, JAN, "desk")
    d = disputes.raise_dispute(con, user(con, "omar"), JAN, "A", _line(con), "0.01", "rounding")
    disputes.accept(con, user(con, "fiona"), d.dispute_id, "carried centrally")
    feb = run_allocation(con, FEB, "desk")
    assert posted_by_target(con, feb.run_key) == {"A": D("599.99"), "B": D("400.00"), "UNALLOCATED": D("0.01")}
    assert feb.unallocated == D("0.01") and feb.total_out == D("1000.00")


def test_rejected_dispute_changes_nothing(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    run_allocation(con, JAN, "desk")
    before = run_allocation(con, FEB, "desk")
    rows = con.sql("SELECT * FROM allocation_result WHERE run_key = ? ORDER BY ALL", params=[before.run_key]).fetchall()
    d = disputes.raise_dispute(con, user(con, "omar"), JAN, "A", _line(con), "50", "not ours")
    with pytest.raises(InputError, match="answer"):
        disputes.reject(con, user(con, "fiona"), d.dispute_id, "  ")
    r = disputes.reject(con, user(con, "fiona"), d.dispute_id, "the split follows headcount")
    assert r.status == "rejected" and r.resolution == "the split follows headcount"
    assert notifications.inbox(con, user(con, "omar"))[0].body == "the split follows headcount"
    after = run_allocation(con, FEB, "desk")
    assert after.run_key == before.run_key and after.replaced
    assert con.sql("SELECT * FROM allocation_result WHERE run_key = ? ORDER BY ALL",
                   params=[after.run_key]).fetchall() == rows
    assert not disputes.awaiting_run(con, user(con, "fiona"))


def test_scope_roles_and_limits(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    run_allocation(con, JAN, "desk")
    omar, fiona = user(con, "omar"), user(con, "fiona")
    line = _line(con)
    with pytest.raises(AccessDenied):
        disputes.lines(con, omar, JAN, "B")
    with pytest.raises(AccessDenied):
        disputes.raise_dispute(con, omar, JAN, "B", line, "1", "not mine")
    with pytest.raises(InputError, match="more than the line"):
        disputes.raise_dispute(con, omar, JAN, "A", line, "600.01", "too much")
    with pytest.raises(InputError, match="whole cents"):
        disputes.raise_dispute(con, omar, JAN, "A", line, "1.001", "fraction")
    mine = disputes.raise_dispute(con, omar, JAN, "A", line, "10", "x")
    other = disputes.raise_dispute(con, fiona, JAN, "B",
                                   disputes.LineRef(line.step, line.step_name, line.source_pool), "5", "y")
    assert [d.dispute_id for d in disputes.list_disputes(con, omar)] == [mine.dispute_id]
    with pytest.raises(AccessDenied):
        disputes.get(con, omar, other.dispute_id)
    with pytest.raises(AccessDenied):
        disputes.accept(con, omar, mine.dispute_id, "self-service")
    with pytest.raises(InputError, match="someone else"):
        disputes.accept(con, fiona, other.dispute_id, "mine")
    disputes.accept(con, user(con, "fred"), other.dispute_id, "ok", assign_to="A")
    with pytest.raises(InputError, match="already accepted"):
        disputes.reject(con, fiona, other.dispute_id, "late")
