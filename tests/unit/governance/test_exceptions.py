"""Business exceptions: requested, approved by someone else, applied without editing the rules, and gone after they
expire — for allocation (held centrally) and for anomaly flags (a planned spike)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from engine.access.users import get_user
from engine.allocation.runs import run_allocation
from engine.errors import AccessDenied, InputError
from engine.governance import exceptions
from engine.insights.anomalies import workflow
from tests.unit.insights.anomalies.test_workflow import FIONA, WEEK, store  # noqa: F401 - the fixture

__all__ = ["store"]


def _user(con: duckdb.DuckDBPyConnection, name: str):  # noqa: ANN202
    u = get_user(con, name)
    assert u is not None
    return u


def _pool(con: duckdb.DuckDBPyConnection, run_key: str, pool: str) -> dict[str, Decimal]:
    return {str(t): Decimal(a) for t, a in con.execute(
        "SELECT coalesce(cost_center_id, target_id), sum(posted_amount) FROM allocation_result WHERE run_key = ?"
        " AND source_pool = ? GROUP BY 1", [run_key, pool]).fetchall()}


def test_held_centrally_while_in_force_and_not_after_it_expires(demo_con: duckdb.DuckDBPyConnection) -> None:
    service, cost = demo_con.execute(
        "SELECT service_name, sum(effective_cost) FROM cost_line WHERE billing_period = '2026-09'"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 1 OFFSET 3").fetchall()[0]
    no = exceptions.request(demo_con, _user(demo_con, "fiona"), kind="migration", match_field="service_name",
                            match_value=service, owner="fiona", reason="data-centre exit, Q3",
                            treatment="hold_centrally", detail={"cost_center": "CC039"}, valid_from="2026-09",
                            valid_to="2026-09")
    pending = run_allocation(demo_con, "2026-09", "demo_default", actor="fiona")
    assert _pool(demo_con, pending.run_key, f"exception:BX-{no}") == {}          # nothing applies before approval

    for maker in ("fiona", " FIONA"):
        with pytest.raises(AccessDenied, match="someone else"):
            exceptions.decide(demo_con, no, maker, True, "mine")
    for name in ("eve", "audrey", "omar"):
        with pytest.raises(AccessDenied):
            exceptions.decide(demo_con, no, name, True, "not mine to approve")
    assert exceptions.decide(demo_con, no, "admin", True, "agreed in the steering group") == "approved"

    held = run_allocation(demo_con, "2026-09", "demo_default", actor="fiona")
    assert held.run_key != pending.run_key
    assert _pool(demo_con, held.run_key, f"exception:BX-{no}") == {"CC039": Decimal(cost).quantize(Decimal("0.01"))}
    # still the whole bill: the same cost in; each pool posts its own total rounded to the cent (conservation is
    # checked per pool by the run), so carving a pool out of a step may move the period's sum by a cent
    assert held.total_in == pending.total_in
    assert abs(held.total_out - pending.total_out) <= Decimal("0.01")
    after = run_allocation(demo_con, "2026-10", "demo_default", actor="fiona")    # the month after valid_to
    assert _pool(demo_con, after.run_key, f"exception:BX-{no}") == {}
    status = dict(exceptions.list_exceptions(demo_con, "2026-10").select("exception_no", "status").iter_rows())
    assert status[no] == "expired"
    assert dict(exceptions.list_exceptions(demo_con, "2026-09").select("exception_no", "status").iter_rows())[
        no] == "in force"
    actions = [r[0] for r in demo_con.execute("SELECT action FROM audit_event WHERE action LIKE 'exception.%'"
                                              " ORDER BY seq").fetchall()]
    assert actions == ["exception.request", "exception.approve"]


def test_requests_are_checked_and_wait_to_be_escalated(demo_con: duckdb.DuckDBPyConnection) -> None:
    fiona = _user(demo_con, "fiona")
    base = dict(kind="project_spike", match_field="service_name", match_value="Amazon EC2", owner="fiona",
                reason="launch", valid_from="2026-10", valid_to="2026-11")
    with pytest.raises(InputError, match="needs `cost_center`"):
        exceptions.request(demo_con, fiona, treatment="hold_centrally", detail={}, **base)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="ends"):
        exceptions.request(demo_con, fiona, treatment="temporary_driver", detail={"driver": "headcount"},
                           **{**base, "valid_to": "2026-01"})  # type: ignore[arg-type]
    with pytest.raises(AccessDenied):
        exceptions.request(demo_con, _user(demo_con, "eve"), treatment="exclude_from_anomalies", detail={},
                           **base)  # type: ignore[arg-type]
    no = exceptions.request(demo_con, fiona, treatment="temporary_driver", detail={"driver": "headcount"},
                            **base)  # type: ignore[arg-type]
    later = date.today() + timedelta(days=exceptions.ESCALATE_DAYS + 1)
    status = dict(exceptions.list_exceptions(demo_con, "2026-10", today=later).select(
        "exception_no", "status").iter_rows())
    assert status[no] == "waiting, escalated to admin"
    assert exceptions.decide(demo_con, no, "admin", False, "use the workshop instead") == "rejected"
    with pytest.raises(InputError, match="not waiting"):
        exceptions.decide(demo_con, no, "admin", True, "changed my mind")


def test_a_planned_spike_raises_no_flag_while_excluded(store: duckdb.DuckDBPyConnection) -> None:  # noqa: F811
    store.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES"
                  " ('fiona', 'Fiona', 'finops', 'x'), ('ada', 'Ada', 'admin', 'x')")
    no = exceptions.request(store, FIONA, kind="project_spike", match_field="cost_center", match_value="CC-WEB",
                            owner="fiona", reason="load test week", treatment="exclude_from_anomalies", detail=None,
                            valid_from="2026-03", valid_to="2026-03")
    exceptions.decide(store, no, "ada", True, "planned")
    workflow.detect(store, *WEEK, "scheduler", levels=("cost_center",))
    flagged = set(workflow.list_anomalies(store, FIONA, scope_kind="cost_center")["scope_id"].to_list())
    assert flagged == {"CC-DATA"}                                  # CC-WEB's March spike was planned
    store.execute("UPDATE business_exception SET valid_to = '2026-02', valid_from = '2026-02'")   # now expired
    workflow.detect(store, *WEEK, "scheduler", levels=("cost_center",))
    flagged = set(workflow.list_anomalies(store, FIONA, scope_kind="cost_center")["scope_id"].to_list())
    assert flagged == {"CC-DATA", "CC-WEB"}
