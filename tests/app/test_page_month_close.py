"""The month-close page: says which version will run, submits, lets someone else approve and lock, refuses re-posts
of a locked month (a tab left open before the lock posts nothing; the engine refuses any caller, see
tests/unit/allocation/test_periods.py), and lets only an admin re-open with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from engine.allocation import periods
from engine.rules import versions
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")
PERIOD = "2026-10"


def _con(db: Path):  # noqa: ANN202
    return store.connect(db)


def _button(at, label: str):  # noqa: ANN001, ANN202
    return next(b for b in at.button if b.label == label)


def test_submit_approve_lock_refuse_and_reopen(app_db: Path) -> None:
    stale = page_as("month_close", "fiona").run()                     # a tab left open while the month is open
    at = page_as("month_close", "fiona").run()
    assert not at.exception
    con = _con(app_db)
    rv = versions.as_of(con, "demo_default", PERIOD)
    con.close()
    assert any(f"Will run demo_default v{rv.version}, approved by {rv.approver}" in c.value for c in at.caption)

    at.text_input(key="mc_note").input("October as posted")
    next(b for b in at.button if b.label == "Submit for approval").click().run()
    assert not at.exception and not at.error
    con = _con(app_db)
    assert periods.close_of(con, PERIOD).state == "submitted"
    con.close()

    at = page_as("month_close", "fiona").run()                     # the submitter sees the approve button off
    assert _button(at, "Approve and lock").disabled
    at = page_as("month_close", "admin").run()
    _button(at, "Approve and lock").click().run()
    assert not at.exception and not at.error
    assert any("closed and locked: approved by admin" in i.value for i in at.info)
    run_button = _button(at, "Run month close")
    assert run_button.disabled
    con = _con(app_db)
    runs_before = con.execute("SELECT count(*), max(started_at) FROM allocation_run WHERE period = ?",
                              [PERIOD]).fetchall()
    con.close()
    _button(stale, "Run month close").click().run()                  # the stale tab's click posts nothing
    assert not stale.exception and any("closed and locked" in i.value for i in stale.info)
    assert _button(stale, "Run month close").disabled
    con = _con(app_db)
    assert con.execute("SELECT count(*), max(started_at) FROM allocation_run WHERE period = ?",
                       [PERIOD]).fetchall() == runs_before
    con.close()

    at = page_as("month_close", "fiona").run()                       # finops cannot re-open
    assert not any(b.label == "Re-open the month" for b in at.button)
    at = page_as("month_close", "admin").run()
    at.text_input(key="mc_reopen_reason").input("late AWS credit")
    _button(at, "Re-open the month").click().run()
    assert not at.exception and not at.error
    con = _con(app_db)
    assert periods.close_of(con, PERIOD).state == "open"
    assert con.execute("SELECT actor, detail->>'$.reason' FROM audit_event WHERE action = 'close.reopen'"
                       ).fetchall() == [("admin", "late AWS credit")]
    con.close()
