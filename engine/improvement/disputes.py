"""Charge disputes: an app owner disputes a statement line; FinOps accepts (an adjustment in the next month's run,
engine/allocation/adjustments.py) or rejects with an answer; both sides are notified in the app; every change is
audited. App owners see and raise only their own cost centres' disputes (scope in SQL and on each request).

A dispute is on one line of one posted run's statement: (step, step name, pool, application) of a cost centre in a
period, for an amount up to that line's posted amount. Accepting moves the amount from the disputing cost centre to
another cost centre or to the explicit unallocated line, in the run of `adjust_period` (the month after the
disputed one unless FinOps names a later open month); nothing is ever edited in the disputed month's run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import duckdb
import polars as pl

from engine.access import policy
from engine.access.scope import cost_center_filter, ensure_can_see
from engine.access.users import User
from engine.allocation import adjustments, periods
from engine.allocation.cascade import UNALLOCATED_KIND
from engine.allocation.runs import RunSummary, latest_run, run_allocation
from engine.errors import InputError, NotFound
from engine.improvement import notifications
from engine.insights.anomalies.monthly import add_months, month_start
from engine.masterdata.as_of import check_period
from engine.rules.model import UNALLOCATED
from engine.store import audit, transaction
from engine.store.sql import query

STATUSES = ("open", "accepted", "rejected")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineRef:
    """Which statement line: the posted rows of one step, pool and application for the cost centre."""

    step: int
    step_name: str
    source_pool: str
    app_id: str | None = None


@dataclass(frozen=True)
class Dispute:
    dispute_id: str
    period: str
    run_key: str
    cost_center_id: str
    step: int
    step_name: str
    source_pool: str
    app_id: str | None
    line_amount: Decimal
    amount: Decimal
    reason: str
    evidence: str | None
    raised_by: str
    raised_at: datetime
    status: str
    resolution: str | None
    decided_by: str | None
    decided_at: datetime | None
    assign_kind: str | None
    assign_to: str | None
    adjust_period: str | None
    posted_run_key: str | None


_COLS = ("dispute_id, period, run_key, cost_center_id, step, step_name, source_pool, app_id, line_amount, amount,"
         " reason, evidence, raised_by, raised_at, status, resolution, decided_by, decided_at, assign_kind, assign_to,"
         " adjust_period, posted_run_key")


def next_period(period: str) -> str:
    d = add_months(month_start(period), 1)
    return f"{d.year:04d}-{d.month:02d}"


def _money(value: Decimal | str | float | int) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InputError(f"amount must be a number, not {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise InputError("a disputed amount must be more than 0.00")
    if amount != amount.quantize(CENT):
        raise InputError("a disputed amount is in whole cents")
    return amount.quantize(CENT)


def lines(con: duckdb.DuckDBPyConnection, user: User, period: str, cost_center_id: str) -> pl.DataFrame:
    """The lines of the cost centre's statement in the period's latest posted run that can be disputed (posted
    amount above 0, adjustments excluded): step, step_name, source_pool, app_id, amount."""
    ensure_can_see(user, cost_center_id)
    run = latest_run(con, period)
    if run is None:
        raise NotFound(f"{period} has no posted allocation run yet")
    return query(con, (
        "SELECT step, step_name, source_pool, app_id, sum(posted_amount) AS amount FROM allocation_result"
        " WHERE run_key = ? AND cost_center_id = ? AND NOT starts_with(source_pool, ?)"
        " GROUP BY ALL HAVING sum(posted_amount) > 0 ORDER BY step, source_pool, app_id NULLS FIRST"),
        [run, cost_center_id, adjustments.POOL_PREFIX])


def _row(r: tuple[object, ...]) -> Dispute:
    d = dict(zip([c.strip() for c in _COLS.split(",")], r, strict=True))
    return Dispute(**d)  # type: ignore[arg-type]


def get(con: duckdb.DuckDBPyConnection, user: User, dispute_id: str) -> Dispute:
    """One dispute; AccessDenied when it is another cost centre's and the user is scoped."""
    rows = con.execute(f"SELECT {_COLS} FROM dispute WHERE dispute_id = ?", [dispute_id]).fetchall()
    if not rows:
        raise NotFound(f"no dispute {dispute_id!r}")
    d = _row(rows[0])
    ensure_can_see(user, d.cost_center_id)
    return d


def list_disputes(con: duckdb.DuckDBPyConnection, user: User, status: str | None = None) -> list[Dispute]:
    """Disputes the user may see (app owners: their cost centres, in SQL), newest first."""
    pred, params = cost_center_filter(user)
    sql = f"SELECT {_COLS} FROM dispute WHERE period IS NOT NULL AND {pred}"
    if status is not None:
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}")
        sql += " AND status = ?"
        params = [*params, status]
    return [_row(r) for r in con.execute(sql + " ORDER BY raised_at DESC, dispute_id DESC", params).fetchall()]


def _next_id(con: duckdb.DuckDBPyConnection) -> str:
    n = int(con.execute("SELECT count(*) FROM dispute").fetchall()[0][0]) + 1
    while con.execute("SELECT 1 FROM dispute WHERE dispute_id = ?", [f"D-{n:04d}"]).fetchall():
        n += 1
    return f"D-{n:04d}"


def raise_dispute(con: duckdb.DuckDBPyConnection, user: User, period: str, cost_center_id: str, line: LineRef,
                  amount: Decimal | str | float, reason: str, evidence: str = "", *,
                  now: datetime | None = None) -> Dispute:
    """Dispute `amount` of one line of the cost centre's statement (the period's latest posted run). FinOps users
    are notified; audited as dispute.raise."""
    policy.require(user, "raise_dispute", f"dispute a charge of {cost_center_id}")
    check_period(period)
    value = _money(amount)
    if not reason.strip():
        raise InputError("a dispute needs a reason")
    found = lines(con, user, period, cost_center_id).filter(
        (pl.col("step") == line.step) & (pl.col("source_pool") == line.source_pool)
        & (pl.col("app_id").eq_missing(line.app_id)))
    if found.is_empty():
        raise NotFound(f"{cost_center_id} has no charged line {line.step_name!r} ({line.source_pool}) in {period}")
    line_amount = Decimal(found["amount"][0])
    if value > line_amount:
        raise InputError(f"the disputed amount {value:,.2f} is more than the line's {line_amount:,.2f}")
    run = latest_run(con, period)
    at = now or audit.now()
    with transaction(con):
        did = _next_id(con)
        con.execute(
            "INSERT INTO dispute (dispute_id, run_key, cost_center_id, amount, reason, raised_by, status, raised_at,"
            " period, step, step_name, source_pool, app_id, line_amount, evidence)"
            " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
            [did, run, cost_center_id, value, reason.strip(), user.username, at, period, line.step, line.step_name,
             line.source_pool, line.app_id, line_amount, evidence.strip() or None])
        notifications.notify(
            con, [u for u in notifications.users_with_role(con, *policy.roles_for("decide_dispute"))
                  if u != user.username],
            f"Dispute {did} raised on {cost_center_id} {period}",
            f"{user.username} disputes {value:,.2f} of {line.step_name} ({line.source_pool}): {reason.strip()}",
            entity="dispute", entity_id=did, now=at)
        audit.record(con, user.username, "dispute.raise", "dispute", did, {
            "period": period, "cost_center_id": cost_center_id, "run_key": run, "step": line.step,
            "source_pool": line.source_pool, "app_id": line.app_id, "amount": str(value), "reason": reason.strip()})
    return get(con, user, did)


def _open(con: duckdb.DuckDBPyConnection, user: User, dispute_id: str, what: str) -> Dispute:
    policy.require(user, "decide_dispute", what)
    d = get(con, user, dispute_id)
    if d.status != "open":
        raise InputError(f"dispute {dispute_id} is already {d.status}")
    if d.raised_by == user.username:
        raise InputError(f"{user.username} raised dispute {dispute_id}: someone else decides it")
    return d


def accept(con: duckdb.DuckDBPyConnection, user: User, dispute_id: str, answer: str, *,
           assign_to: str = UNALLOCATED, adjust_period: str | None = None, now: datetime | None = None) -> Dispute:
    """Accept: the amount moves from the disputing cost centre to `assign_to` (a cost centre, or UNALLOCATED:
    carried centrally) in the run of `adjust_period` (default: the month after the disputed one), which must be
    later than the disputed month and neither submitted nor locked. The raiser is notified; audited."""
    d = _open(con, user, dispute_id, f"accept dispute {dispute_id}")
    target = adjust_period or next_period(d.period)
    check_period(target)
    if target <= d.period:
        raise InputError(f"the adjustment goes into a month after {d.period}, not {target}")
    state = periods.close_of(con, target).state
    if state != "open":
        raise InputError(f"{target} is {state}: choose a later open month for the adjustment")
    if assign_to == UNALLOCATED:
        kind = UNALLOCATED_KIND
    else:
        kind = "cost_center"
        if assign_to == d.cost_center_id:
            raise InputError("the amount must move to another cost centre or to unallocated")
        if not con.execute("SELECT 1 FROM org_unit WHERE unit_id = ? AND kind = 'cost_center'",
                           [assign_to]).fetchall():
            raise NotFound(f"no cost centre {assign_to!r}")
    at = now or audit.now()
    text = answer.strip() or "accepted"
    with transaction(con):
        con.execute("UPDATE dispute SET status = 'accepted', resolution = ?, decided_by = ?, decided_at = ?,"
                    " assign_kind = ?, assign_to = ?, adjust_period = ? WHERE dispute_id = ?",
                    [text, user.username, at, kind, assign_to, target, dispute_id])
        where = "unallocated (carried centrally)" if kind == UNALLOCATED_KIND else assign_to
        notifications.notify(
            con, [d.raised_by], f"Dispute {dispute_id} accepted",
            f"{d.amount:,.2f} of {d.step_name} moves from {d.cost_center_id} to {where} in the {target} run: {text}",
            entity="dispute", entity_id=dispute_id, now=at)
        audit.record(con, user.username, "dispute.accept", "dispute", dispute_id, {
            "amount": str(d.amount), "from": d.cost_center_id, "to": assign_to, "adjust_period": target,
            "answer": text})
    return get(con, user, dispute_id)


def reject(con: duckdb.DuckDBPyConnection, user: User, dispute_id: str, answer: str, *,
           now: datetime | None = None) -> Dispute:
    """Reject with an answer (required); nothing is posted. The raiser is notified; audited."""
    d = _open(con, user, dispute_id, f"reject dispute {dispute_id}")
    if not answer.strip():
        raise InputError("a rejection needs an answer for the app owner")
    at = now or audit.now()
    with transaction(con):
        con.execute("UPDATE dispute SET status = 'rejected', resolution = ?, decided_by = ?, decided_at = ?"
                    " WHERE dispute_id = ?", [answer.strip(), user.username, at, dispute_id])
        notifications.notify(con, [d.raised_by], f"Dispute {dispute_id} rejected", answer.strip(),
                             entity="dispute", entity_id=dispute_id, now=at)
        audit.record(con, user.username, "dispute.reject", "dispute", dispute_id, {"answer": answer.strip()})
    return get(con, user, dispute_id)


def awaiting_run(con: duckdb.DuckDBPyConnection, user: User) -> list[Dispute]:
    """Accepted disputes whose month has a posted run that does not carry them yet (the month needs a re-run)."""
    out = []
    for d in list_disputes(con, user, "accepted"):
        run = latest_run(con, d.adjust_period) if d.adjust_period else None
        if run is not None and d.posted_run_key != run:
            out.append(d)
    return out


def post_adjustments(con: duckdb.DuckDBPyConnection, user: User, period: str) -> RunSummary:
    """Re-run `period` with its latest posted run's rule set, version, basis and parameters, so the accepted
    disputes of that month are posted (month-close permission; the run itself is audited)."""
    policy.require(user, "close_month", f"re-run {period} to post accepted disputes")
    run = latest_run(con, period)
    if run is None:
        raise NotFound(f"{period} has no posted run yet: its first run posts the adjustments")
    rule_set, version, basis, params = con.execute(
        "SELECT rule_set, rule_version, basis, params FROM allocation_run WHERE run_key = ?", [run]).fetchall()[0]
    parsed = json.loads(params) if params else None
    return run_allocation(con, period, str(rule_set), version=int(version) or None, basis=basis,
                          params=parsed or None, actor=user.username)
