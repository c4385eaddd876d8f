"""Closing a month: submit the posted run, have someone else approve it, and the period is locked.

States: open (no row, or re-opened) → submitted (a run named; re-posting refused while it waits) → locked
(approved; re-posting refused from page, CLI and API alike, because `run_allocation` asks `guard` first).
- submit: a user who may close months, naming a posted run of that month;
- approve: a known user holding `approve_close` who is neither the submitter nor the user who posted the run;
  the approved run is the one in force: the month's other posted runs are marked `superseded`;
- reject: back to open, with a reason;
- reopen: an admin (`reopen_period`) with a reason; the locked run stays posted, later runs post beside it.
Every transition is audited in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from engine.access.identity import checker, identity
from engine.errors import AccessDenied, AllocationError, InputError, NotFound
from engine.masterdata.as_of import check_period
from engine.store import audit, transaction


@dataclass(frozen=True)
class PeriodClose:
    period: str
    state: str                      # open, submitted, locked
    run_key: str | None
    submitted_by: str | None
    submitted_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    note: str | None


def close_of(con: duckdb.DuckDBPyConnection, period: str) -> PeriodClose:
    check_period(period)
    rows = con.execute("SELECT period, state, run_key, submitted_by, submitted_at, approved_by, approved_at, note"
                       " FROM period_close WHERE period = ?", [period]).fetchall()
    if not rows:
        return PeriodClose(period, "open", None, None, None, None, None, None)
    return PeriodClose(*rows[0])


def locked_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT period FROM period_close WHERE state = 'locked' ORDER BY 1"
                                           ).fetchall()]


def guard(con: duckdb.DuckDBPyConnection, period: str) -> None:
    """Refuse to post into a submitted or locked month (called by run_allocation before any work)."""
    s = close_of(con, period)
    if s.state == "locked":
        raise AllocationError(f"{period} is closed and locked (approved by {s.approved_by}): nothing was posted. "
                              "An admin can re-open it, with a reason.")
    if s.state == "submitted":
        raise AllocationError(f"{period}'s close is waiting for approval (submitted by {s.submitted_by}): nothing "
                              "was posted. Reject the submission to post another run.")


def _write(con: duckdb.DuckDBPyConnection, s: PeriodClose) -> None:
    con.execute("DELETE FROM period_close WHERE period = ?", [s.period])
    con.execute("INSERT INTO period_close (period, state, run_key, submitted_by, submitted_at, approved_by,"
                " approved_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [s.period, s.state, s.run_key, s.submitted_by, s.submitted_at, s.approved_by, s.approved_at, s.note])


def submit(con: duckdb.DuckDBPyConnection, period: str, run_key: str, actor: str, note: str = "") -> PeriodClose:
    """Submit `run_key` (a posted run of `period`) as the month's close, for someone else to approve."""
    who = checker(con, actor, "close_month", "submit", f"the close of {period}", "close months").username
    current = close_of(con, period)
    if current.state != "open":
        raise InputError(f"{period} is {current.state}: only an open month can be submitted")
    run = con.execute("SELECT period, status FROM allocation_run WHERE run_key = ?", [run_key]).fetchall()
    if not run:
        raise NotFound(f"no allocation run {run_key[:12]}")
    if run[0][0] != period or run[0][1] != "posted":
        raise InputError(f"run {run_key[:12]} is a {run[0][1]} run of {run[0][0]}, not a posted run of {period}")
    now = datetime.now()
    new = PeriodClose(period, "submitted", run_key, who, now, None, None, note.strip() or None)
    with transaction(con):
        _write(con, new)
        audit.record(con, who, "close.submit", "period", period, {"run_key": run_key, "note": note.strip()})
    return new


def approve(con: duckdb.DuckDBPyConnection, period: str, approver: str) -> PeriodClose:
    """Approve the submitted close: the period is locked and its other posted runs are superseded."""
    what = f"the close of {period}"
    user = checker(con, approver, "approve_close", "approve", what, "approve month closes")
    current = close_of(con, period)
    if current.state != "submitted" or current.run_key is None:
        raise InputError(f"{period} is {current.state}: only a submitted close can be approved")
    poster = con.execute("SELECT started_by FROM allocation_run WHERE run_key = ?", [current.run_key]).fetchall()
    makers = {identity(current.submitted_by), identity(poster[0][0] if poster else None)} - {""}
    if identity(user.username) in makers:
        raise AccessDenied(f"{user.username} submitted or posted {what}: someone else must approve it")
    new = PeriodClose(period, "locked", current.run_key, current.submitted_by, current.submitted_at, user.username,
                      datetime.now(), current.note)
    with transaction(con):
        superseded = [str(r[0]) for r in con.execute(
            "UPDATE allocation_run SET status = 'superseded' WHERE period = ? AND status = 'posted' AND run_key <> ?"
            " RETURNING run_key", [period, current.run_key]).fetchall()]
        _write(con, new)
        audit.record(con, user.username, "close.approve", "period", period,
                     {"run_key": current.run_key, "superseded": sorted(superseded)})
    return new


def reject(con: duckdb.DuckDBPyConnection, period: str, approver: str, reason: str) -> PeriodClose:
    if not reason.strip():
        raise InputError("say why the close is rejected: it goes to the submitter and the audit trail")
    user = checker(con, approver, "approve_close", "reject", f"the close of {period}", "approve month closes")
    current = close_of(con, period)
    if current.state != "submitted":
        raise InputError(f"{period} is {current.state}: only a submitted close can be rejected")
    new = PeriodClose(period, "open", None, None, None, None, None, reason.strip())
    with transaction(con):
        _write(con, new)
        audit.record(con, user.username, "close.reject", "period", period,
                     {"run_key": current.run_key, "reason": reason.strip()})
    return new


def reopen(con: duckdb.DuckDBPyConnection, period: str, actor: str, reason: str) -> PeriodClose:
    """Re-open a locked month (admins only, with a reason): re-posting is allowed again."""
    if not reason.strip():
        raise InputError(f"say why {period} is re-opened: it goes to the audit trail")
    who = checker(con, actor, "reopen_period", "re-open", period, "re-open closed months").username
    current = close_of(con, period)
    if current.state != "locked":
        raise InputError(f"{period} is {current.state}: only a locked month can be re-opened")
    new = PeriodClose(period, "open", None, None, None, None, None, reason.strip())
    with transaction(con):
        _write(con, new)
        audit.record(con, who, "close.reopen", "period", period,
                     {"locked_run_key": current.run_key, "approved_by": current.approved_by,
                      "reason": reason.strip()})
    return new
