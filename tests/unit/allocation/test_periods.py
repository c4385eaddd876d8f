"""Closing a month: submit, approve by someone else, locked — re-posting refused from the API and the CLI, re-opening
only by an admin with a reason, every step audited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from engine.allocation import periods
from engine.allocation.runs import latest_run, run_allocation
from engine.errors import AccessDenied, AllocationError, InputError
from tests.conftest import add_users

PERIOD = "2026-10"
ROOT = Path(__file__).resolve().parents[3]


def _runs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute("SELECT run_key, status FROM allocation_run WHERE period = ? ORDER BY started_at",
                       [PERIOD]).fetchall()


def _events(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute("SELECT action, actor FROM audit_event WHERE action LIKE 'close.%' ORDER BY seq").fetchall()


def test_a_submitted_then_approved_close_locks_the_month(demo_con: duckdb.DuckDBPyConnection) -> None:
    add_users(demo_con, "finops", "finn")
    first = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    demo_con.execute("UPDATE driver_value SET quantity = quantity + 1 WHERE period = ? AND target_id = "
                     "(SELECT min(target_id) FROM driver_value WHERE period = ?)", [PERIOD, PERIOD])
    second = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    assert second.run_key != first.run_key

    periods.submit(demo_con, PERIOD, second.run_key, "fiona", "October, drivers corrected")
    before = _runs(demo_con)
    with pytest.raises(AllocationError, match="waiting for approval"):
        run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    assert _runs(demo_con) == before                              # nothing posted while it waits

    for author in ("fiona", "Fiona", " FIONA ", "fi\u200bona"):    # the author, in any spelling
        with pytest.raises(AccessDenied, match="someone else must approve"):
            periods.approve(demo_con, PERIOD, author)
    for name, error in (("eve", AccessDenied), ("omar", AccessDenied), ("audrey", AccessDenied),
                        ("nobody", AccessDenied), ("", InputError)):
        with pytest.raises(error):
            periods.approve(demo_con, PERIOD, name)
    assert periods.close_of(demo_con, PERIOD).state == "submitted"

    locked = periods.approve(demo_con, PERIOD, "finn")
    assert (locked.state, locked.run_key, locked.approved_by) == ("locked", second.run_key, "finn")
    assert dict(_runs(demo_con)) == {first.run_key: "superseded", second.run_key: "posted"}
    assert latest_run(demo_con, PERIOD) == second.run_key         # the approved run is the one in force
    with pytest.raises(AllocationError, match="closed and locked"):
        run_allocation(demo_con, PERIOD, "demo_default", actor="admin")
    assert _events(demo_con) == [("close.submit", "fiona"), ("close.approve", "finn")]


def test_the_user_who_posted_the_run_cannot_approve_a_close_someone_else_submitted(
        demo_con: duckdb.DuckDBPyConnection) -> None:
    add_users(demo_con, "finops", "finn")
    run = run_allocation(demo_con, PERIOD, "demo_default", actor="finn")
    periods.submit(demo_con, PERIOD, run.run_key, "fiona")
    with pytest.raises(AccessDenied, match="submitted or posted"):
        periods.approve(demo_con, PERIOD, "FINN")
    assert periods.approve(demo_con, PERIOD, "admin").state == "locked"


def test_reopening_needs_an_admin_and_a_reason_and_is_audited(demo_con: duckdb.DuckDBPyConnection) -> None:
    run = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    periods.submit(demo_con, PERIOD, run.run_key, "fiona")
    periods.approve(demo_con, PERIOD, "admin")
    with pytest.raises(AccessDenied):
        periods.reopen(demo_con, PERIOD, "fiona", "late invoice")
    with pytest.raises(InputError, match="say why"):
        periods.reopen(demo_con, PERIOD, "admin", "  ")
    assert periods.close_of(demo_con, PERIOD).state == "locked"
    opened = periods.reopen(demo_con, PERIOD, "admin", "late AWS credit")
    assert (opened.state, opened.note) == ("open", "late AWS credit")
    reason = demo_con.execute("SELECT detail->>'$.reason', detail->>'$.locked_run_key' FROM audit_event "
                              "WHERE action = 'close.reopen'").fetchall()
    assert reason == [("late AWS credit", run.run_key)]
    again = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")   # re-posting works again
    assert again.run_key == run.run_key and again.replaced


def test_a_rejected_close_opens_the_month_again(demo_con: duckdb.DuckDBPyConnection) -> None:
    run = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    with pytest.raises(InputError, match="not a posted run of 2026-09"):
        periods.submit(demo_con, "2026-09", run.run_key, "fiona")     # a run of another month
    periods.submit(demo_con, PERIOD, run.run_key, "fiona")
    with pytest.raises(InputError, match="say why"):
        periods.reject(demo_con, PERIOD, "admin", "")
    assert periods.reject(demo_con, PERIOD, "admin", "use the corrected drivers").state == "open"
    assert run_allocation(demo_con, PERIOD, "demo_default", actor="fiona").replaced


def test_the_cli_refuses_to_post_into_a_locked_month(demo_con: duckdb.DuckDBPyConnection) -> None:
    run = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    periods.submit(demo_con, PERIOD, run.run_key, "fiona")
    periods.approve(demo_con, PERIOD, "admin")
    path = demo_con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                            ).fetchall()[0][0]
    demo_con.close()
    done = subprocess.run([sys.executable, "-m", "engine", "allocate", "--db", path, "--period", PERIOD,
                           "--ruleset", "demo_default"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "2026-10 is closed and locked (approved by admin)" in done.stderr
