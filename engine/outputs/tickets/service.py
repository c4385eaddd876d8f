"""Exactly one ticket per subject: the `ticket` table (migration 0009) is written before anything is sent.

State of a ticket row:

    (none) --open_ticket--> pending --delivered--> open            (final; later calls return it, nothing is sent)
                              |  ^ \\--refused on create--> failed  (the server said no: nothing was created)
                              |  |                          |
                              +--+ gave up / refused on lookup: last_error recorded, retried by retry_pending
                                                            +--open_ticket again--> pending (after a fix)

A send round holds the row (`claimed_until`) so two sessions never send the same ticket at once; a process that
dies mid-round leaves the claim to expire. Every change of a row is audited in the transaction that makes it:
`ticket.request` (row created), `ticket.send` (an existing row resent), `ticket.open`, `ticket.send_failed`,
`ticket.rejected`. No transaction is held across the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from engine.errors import ConfigError, InputError
from engine.outputs.tickets.client import DEFAULT_POLICY, Delivered, GaveUp, Outcome, RetryPolicy, deliver
from engine.outputs.tickets.formats import TicketRequest, idempotency_key
from engine.outputs.tickets.targets import TicketTarget, get_target, now_utc, token_for
from engine.store import audit, transaction

STATUSES = ("pending", "open", "failed")
_COLUMNS = ("ticket_id", "target_name", "subject_kind", "subject_id", "cost_center_id", "title", "body", "link",
            "status", "reference", "remote_id", "url", "api_url", "attempts", "last_error", "created_by",
            "created_at", "updated_at", "opened_at")
SUBJECT_MAX = 200
TEXT_MAX = 30_000


@dataclass(frozen=True)
class Ticket:
    ticket_id: str              # the idempotency key
    target_name: str
    subject_kind: str
    subject_id: str
    cost_center_id: str | None
    title: str
    body: str
    link: str | None
    status: str                 # pending | open | failed
    reference: str | None       # PROJ-12, INC0010001, the webhook's id
    remote_id: str | None
    url: str | None
    api_url: str | None
    attempts: int
    last_error: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    opened_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def request(self) -> TicketRequest:
        return TicketRequest(self.ticket_id, self.target_name, self.subject_kind, self.subject_id, self.title,
                             self.body, self.link, self.cost_center_id)


def _load(con: duckdb.DuckDBPyConnection, ticket_id: str) -> Ticket | None:
    rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM ticket WHERE ticket_id = ?", [ticket_id]).fetchall()
    return Ticket(*rows[0]) if rows else None


def get_ticket(con: duckdb.DuckDBPyConnection, target_name: str, subject_kind: str, subject_id: str) -> Ticket | None:
    """The stored ticket of this subject at this target, if one was ever requested."""
    return _load(con, idempotency_key(target_name, subject_kind, subject_id))


def list_tickets(con: duckdb.DuckDBPyConnection, *, status: str | None = None, target_name: str | None = None,
                 subject_kind: str | None = None) -> list[Ticket]:
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("status", status), ("target_name", target_name), ("subject_kind", subject_kind)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = f"SELECT {', '.join(_COLUMNS)} FROM ticket {'WHERE ' + ' AND '.join(where) if where else ''}" \
          " ORDER BY created_at, ticket_id"
    return [Ticket(*r) for r in con.execute(sql, params).fetchall()]


def _check_subject(subject_kind: str, subject_id: str, title: str, body: str) -> None:
    problems = []
    if not subject_kind.strip() or len(subject_kind) > SUBJECT_MAX:
        problems.append(f"subject kind must be 1-{SUBJECT_MAX} characters")
    if not subject_id.strip() or len(subject_id) > SUBJECT_MAX:
        problems.append(f"subject id must be 1-{SUBJECT_MAX} characters")
    if not title.strip():
        problems.append("title must not be empty")
    if len(title) + len(body) > TEXT_MAX:
        problems.append(f"title and body must stay under {TEXT_MAX} characters")
    if problems:
        raise InputError(f"ticket for {subject_kind!r} {subject_id!r}: " + "; ".join(problems))


def _check_scope(target: TicketTarget, cost_center_id: str | None) -> None:
    if target.serves(cost_center_id):
        return
    whose = f"cost centre {cost_center_id!r}" if cost_center_id else "a subject with no cost centre"
    raise InputError(f"ticket target {target.name!r} takes tickets for cost centre {target.cost_center_id!r} "
                     f"only, not for {whose}")


def _claim(con: duckdb.DuckDBPyConnection, req: TicketRequest, actor: str, policy: RetryPolicy,
           *, refresh_text: bool) -> tuple[Ticket, bool] | None:
    """Create the pending row, or take an existing unfinished one for one send round. Returns (row, created) or
    None when the row is open or another sender holds it."""
    now = now_utc()
    until = now + timedelta(seconds=policy.lease_seconds())
    try:
        with transaction(con):
            existing = _load(con, req.idempotency_key)
            if existing is None:
                con.execute(
                    "INSERT INTO ticket (ticket_id, target_name, subject_kind, subject_id, cost_center_id, title,"
                    " body, link, status, claimed_until, created_by, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                    [req.idempotency_key, req.target_name, req.subject_kind, req.subject_id, req.cost_center_id,
                     req.title, req.body, req.link, until, actor, now, now])
                audit.record(con, actor, "ticket.request", "ticket", req.idempotency_key, {
                    "target": req.target_name, "subject_kind": req.subject_kind, "subject_id": req.subject_id,
                    "cost_center_id": req.cost_center_id, "title": req.title})
                created = True
            else:
                text = [req.title, req.body, req.link, req.cost_center_id] if refresh_text else \
                    [existing.title, existing.body, existing.link, existing.cost_center_id]
                taken = con.execute(
                    "UPDATE ticket SET status = 'pending', title = ?, body = ?, link = ?, cost_center_id = ?,"
                    " claimed_until = ?, updated_at = ? WHERE ticket_id = ? AND status <> 'open'"
                    " AND (claimed_until IS NULL OR claimed_until < ?)",
                    [*text, until, now, req.idempotency_key, now]).fetchall()[0][0]
                if not taken:
                    return None
                audit.record(con, actor, "ticket.send", "ticket", req.idempotency_key, {
                    "target": req.target_name, "previous_status": existing.status, "attempts": existing.attempts})
                created = False
    except (duckdb.ConstraintException, duckdb.TransactionException):
        return None  # another session inserted or claimed the same row first
    row = _load(con, req.idempotency_key)
    assert row is not None
    return row, created


def _record(con: duckdb.DuckDBPyConnection, ticket: Ticket, outcome: Outcome, actor: str) -> Ticket:
    """Write the round's outcome and release the claim."""
    now = now_utc()
    with transaction(con):
        if isinstance(outcome, Delivered):
            c = outcome.created
            con.execute(
                "UPDATE ticket SET status = 'open', reference = ?, remote_id = ?, url = ?, api_url = ?,"
                " attempts = attempts + ?, last_error = NULL, claimed_until = NULL, updated_at = ?, opened_at = ?"
                " WHERE ticket_id = ?",
                [c.reference, c.remote_id, c.url, c.api_url, outcome.attempts, now, now, ticket.ticket_id])
            audit.record(con, actor, "ticket.open", "ticket", ticket.ticket_id, {
                "target": ticket.target_name, "reference": c.reference, "url": c.url, "found_by": outcome.found_by,
                "attempts": ticket.attempts + outcome.attempts})
        else:
            error = outcome.error if isinstance(outcome, GaveUp) else str(outcome.error)
            # refused while creating: nothing exists remotely → failed; refused while looking up: unknown → pending
            status = "failed" if not isinstance(outcome, GaveUp) and outcome.during == "create" else "pending"
            con.execute(
                "UPDATE ticket SET status = ?, attempts = attempts + ?, last_error = ?, claimed_until = NULL,"
                " updated_at = ? WHERE ticket_id = ?",
                [status, outcome.attempts, error, now, ticket.ticket_id])
            audit.record(con, actor, "ticket.rejected" if status == "failed" else "ticket.send_failed", "ticket",
                         ticket.ticket_id, {"target": ticket.target_name, "status": status, "error": error,
                                            "attempts": ticket.attempts + outcome.attempts})
    row = _load(con, ticket.ticket_id)
    assert row is not None
    return row


def _note_error(con: duckdb.DuckDBPyConnection, ticket: Ticket, error: str, actor: str) -> Ticket:
    """A pending ticket that could not even be sent (its token variable is missing): the error, nothing else."""
    with transaction(con):
        con.execute("UPDATE ticket SET last_error = ?, updated_at = ? WHERE ticket_id = ? AND status = 'pending'",
                    [error, now_utc(), ticket.ticket_id])
        audit.record(con, actor, "ticket.send_failed", "ticket", ticket.ticket_id,
                     {"target": ticket.target_name, "status": ticket.status, "error": error,
                      "attempts": ticket.attempts})
    row = _load(con, ticket.ticket_id)
    assert row is not None
    return row


def open_ticket(con: duckdb.DuckDBPyConnection, target_name: str, subject_kind: str, subject_id: str, title: str,
                body: str, link: str | None, actor: str, *, cost_center_id: str | None = None,
                policy: RetryPolicy = DEFAULT_POLICY) -> Ticket:
    """The one ticket of this subject at this target, opening it if needed.

    - Already open: returned as stored; nothing is sent.
    - Otherwise recorded as pending (with this title/body/link) *before* sending, then sent with the idempotency
      key as the `Idempotency-Key` header and inside the payload. If an earlier attempt may have created it, the
      ticket is first looked up by that key (Jira, ServiceNow).
    - Transient trouble (connection refused, timeouts, 429/5xx) that outlasts the retry policy: returned with
      status `pending` and `last_error`; `retry_pending` sends it later.
    - The server refuses (any other 4xx): the row records the error and its ConfigError/InputError is raised.
    - Being sent by another session right now: returned as stored (pending), not sent twice.

    A target scoped to a cost centre only takes subjects of that cost centre (`cost_center_id`). A missing token
    variable raises ConfigError before anything is recorded.
    """
    _check_subject(subject_kind, subject_id, title, body)
    target = get_target(con, target_name)
    if not target.enabled:
        raise ConfigError(f"ticket target {target.name!r} is disabled; enable it or choose another target")
    _check_scope(target, cost_center_id)
    key = idempotency_key(target.name, subject_kind, subject_id)
    stored = _load(con, key)
    if stored is not None and stored.is_open:
        return stored
    token = token_for(target)
    req = TicketRequest(key, target.name, subject_kind, subject_id, title, body, link, cost_center_id)
    claimed = _claim(con, req, actor, policy, refresh_text=True)
    if claimed is None:
        current = _load(con, key)
        assert current is not None
        return current
    ticket, created = claimed
    outcome = deliver(target, token, ticket.request(), may_exist=not created, policy=policy)
    result = _record(con, ticket, outcome, actor)
    if not isinstance(outcome, Delivered | GaveUp):
        raise outcome.error
    return result


def retry_pending(con: duckdb.DuckDBPyConnection, actor: str, *, target_name: str | None = None, limit: int = 100,
                  policy: RetryPolicy = DEFAULT_POLICY) -> list[Ticket]:
    """Send again every pending ticket no one is sending (oldest first, at most `limit`), each after looking it up
    by its key where the API allows. Returns the tickets it tried, as they now stand; a refusal or a missing token
    is recorded on the ticket (`last_error`), not raised. Tickets of disabled targets are left alone; `failed`
    ones wait for a person (fix the target or the text, then `open_ticket` again)."""
    now = now_utc()
    params: list[Any] = [now]
    extra = ""
    if target_name is not None:
        extra = " AND t.target_name = ?"
        params.append(target_name)
    ids = [r[0] for r in con.execute(
        "SELECT t.ticket_id FROM ticket t JOIN ticket_target g ON g.name = t.target_name"
        " WHERE t.status = 'pending' AND g.enabled AND (t.claimed_until IS NULL OR t.claimed_until < ?)"
        f"{extra} ORDER BY t.created_at, t.ticket_id LIMIT ?", [*params, limit]).fetchall()]
    out: list[Ticket] = []
    for ticket_id in ids:
        stored = _load(con, ticket_id)
        if stored is None or stored.status != "pending":
            continue
        target = get_target(con, stored.target_name)
        try:
            token = token_for(target)
        except ConfigError as exc:
            out.append(_note_error(con, stored, str(exc), actor))
            continue
        claimed = _claim(con, stored.request(), actor, policy, refresh_text=False)
        if claimed is None:
            continue
        ticket, _ = claimed
        outcome = deliver(target, token, ticket.request(), may_exist=True, policy=policy)
        out.append(_record(con, ticket, outcome, actor))
    return out
