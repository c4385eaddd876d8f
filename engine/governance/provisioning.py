"""Provisioning requests: before a deployment, check quota and remaining budget; within both it is approved at once,
otherwise it escalates to the right approver — the cost centre's owner, then FinOps, then finance above a limit.

Budget: the cost centre's budget for the month (table `budget`) minus what it already spends — its charge in the
latest posted month (the run rate of allocated cost, the basis budgets are set on) plus the monthly cost of the
requests approved since that run. No budget for the month: the request cannot be shown to fit, so it escalates.

Escalation (the levels are settings: `provision_owner_limit`, `provision_finance_limit`):
- within quota and budget → approved automatically (approver level `none`);
- otherwise, monthly cost ≤ owner limit → the cost centre's owner (org_unit.manager, a named user);
- ≤ finance limit → FinOps (role finops or admin);
- above → finance (the executive role: this app has no separate finance role; admin may too).
A higher level may approve a lower one; nobody approves their own request. Every request and decision is audited.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

import duckdb

from engine.access.identity import identity, known_user
from engine.access.policy import require
from engine.access.scope import visible_cost_centers
from engine.access.users import User, get_user
from engine.errors import AccessDenied, InputError, NotFound
from engine.governance import quotas
from engine.rules import versions
from engine.settings import get_settings
from engine.store import audit, transaction
from engine.tags import standard

Level = Literal["none", "cost_center_owner", "finops", "finance"]
LEVEL_ROLES: dict[str, tuple[str, ...]] = {"cost_center_owner": ("finops", "admin", "executive"),
                                           "finops": ("finops", "admin", "executive"),
                                           "finance": ("executive", "admin")}


@dataclass(frozen=True)
class Request:
    cost_center_id: str
    resource_class: str
    quantity: Decimal
    est_monthly_cost: Decimal
    justification: str
    app_id: str | None = None
    period: str | None = None       # the month whose budget applies; default: the month after the latest posted


@dataclass(frozen=True)
class Decision:
    approved: bool
    level: Level
    approver: str | None               # the named approver (username) or the role that approves
    period: str
    quota_limit: str | None
    quota_in_use: str
    quota_after: str
    budget: str | None
    committed: str
    budget_after: str | None
    reasons: list[str] = field(default_factory=list)
    policy: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _period(con: duckdb.DuckDBPyConnection, period: str | None) -> str:
    if period is not None:
        if not versions.PERIOD.match(period):
            raise InputError(f"period must be YYYY-MM, not {period!r}")
        return period
    latest = con.execute("SELECT max(period) FROM allocation_run WHERE status = 'posted'").fetchall()[0][0]
    if latest is None:
        raise InputError("no posted month yet: name the month whose budget applies (period)")
    y, m = int(latest[:4]), int(latest[5:7])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def _committed(con: duckdb.DuckDBPyConnection, cc: str) -> Decimal:
    latest = con.execute("SELECT run_key, started_at FROM allocation_run WHERE status = 'posted'"
                         " ORDER BY period DESC, started_at DESC LIMIT 1").fetchall()
    if not latest:
        return Decimal(0)
    run_key, started = latest[0]
    charge = con.execute("SELECT coalesce(sum(posted_amount), 0) FROM allocation_result WHERE run_key = ?"
                         " AND cost_center_id = ?", [run_key, cc]).fetchall()[0][0]
    since = con.execute("SELECT coalesce(sum(est_monthly_cost), 0) FROM provisioning_request WHERE state = 'approved'"
                        " AND cost_center_id = ? AND coalesce(decided_at, created_at) > ?", [cc, started]).fetchall()
    return Decimal(charge) + Decimal(since[0][0])


def _policy(con: duckdb.DuckDBPyConnection, req: Request, period: str) -> list[str]:
    """Which steps of the rule set in force would carry this cost, and the tags it must carry."""
    kind = "licences" if req.resource_class.startswith(quotas.LICENCE_PREFIX) else (
        "cost_lines" if req.resource_class.startswith("cloud") else "assets")
    out: list[str] = []
    for name in sorted({v.name for v in versions.list_versions(con) if v.status == "approved"}):
        try:
            rv = versions.as_of(con, name, period)
        except InputError:
            continue
        steps = [s for s in rv.rule_set.steps if s.source.kind == kind]
        if not steps:
            out.append(f"{rv.name} v{rv.version}: no step takes {kind.replace('_', ' ')}, so this cost would not "
                       "be allocated by it (it stays with whoever holds the bill)")
        for s in steps:
            how = {"direct": "charged directly to its owner (" + " → ".join(s.method.fallback) + ")",
                   "driver": f"shared by driver {s.method.driver}"}.get(s.method.kind, f"shared {s.method.kind}")
            filters = ", ".join(f"{f.field} {f.op} {f.value}" for f in s.source.filters) or "every line"
            out.append(f"{rv.name} v{rv.version} step '{s.name}' ({filters}): {how}")
    required = standard.current(con).required
    if kind == "cost_lines" and required:
        out.append("tags required on the resource: " + ", ".join(required))
    return out


def check(con: duckdb.DuckDBPyConnection, user: User, req: Request) -> Decision:
    """The decision a request would get now (nothing is written)."""
    require(user, "request_provisioning", f"request resources for {req.cost_center_id}")
    if req.cost_center_id not in {c for c, _ in visible_cost_centers(con, user)}:
        raise AccessDenied(f"{user.username} cannot request resources for cost centre {req.cost_center_id}")
    if req.quantity <= 0:
        raise InputError(f"quantity must be positive, not {req.quantity}")
    if req.est_monthly_cost < 0:
        raise InputError(f"the estimated monthly cost cannot be negative ({req.est_monthly_cost})")
    if not req.justification.strip():
        raise InputError("say why the resources are needed (justification)")
    if req.app_id is not None and not con.execute("SELECT 1 FROM application WHERE app_id = ?",
                                                  [req.app_id]).fetchall():
        raise InputError(f"{req.app_id!r} is not an application")
    period = _period(con, req.period)
    q = quotas.use(con, req.cost_center_id, req.resource_class)
    budget_row = con.execute("SELECT amount FROM budget WHERE period = ? AND cost_center_id = ?",
                             [period, req.cost_center_id]).fetchall()
    budget = Decimal(budget_row[0][0]) if budget_row else None
    committed = _committed(con, req.cost_center_id)
    reasons: list[str] = []
    after_q = q.in_use + req.quantity
    if q.limit is not None and after_q > q.limit:
        reasons.append(f"over quota: {req.resource_class} {after_q:f} of {q.limit:f} after this request "
                       f"({q.in_use:f} in use)")
    after_b = None if budget is None else budget - committed - req.est_monthly_cost
    if budget is None:
        reasons.append(f"no budget for {req.cost_center_id} in {period}: it cannot be shown to fit")
    elif after_b is not None and after_b < 0:
        reasons.append(f"over budget: {period} budget {budget:,.2f}, already committed {committed:,.2f}, "
                       f"this request {req.est_monthly_cost:,.2f} ({-after_b:,.2f} over)")
    level: Level = "none"
    approver: str | None = None
    if reasons:
        level, approver = _route(con, req)
    return Decision(not reasons, level, approver, period, None if q.limit is None else f"{q.limit:f}",
                    f"{q.in_use:f}", f"{after_q:f}", None if budget is None else f"{budget:.2f}",
                    f"{committed:.2f}", None if after_b is None else f"{after_b:.2f}", reasons,
                    _policy(con, req, period))


def _route(con: duckdb.DuckDBPyConnection, req: Request) -> tuple[Level, str]:
    s = get_settings()
    if req.est_monthly_cost <= s.provision_owner_limit:
        manager = con.execute("SELECT manager FROM org_unit WHERE unit_id = ?", [req.cost_center_id]).fetchall()
        name = manager[0][0] if manager and manager[0][0] else None
        if name and known_user(con, name):
            return "cost_center_owner", str(known_user(con, name))
        return "finops", "finops"                           # no owner who can sign in: the next level
    if req.est_monthly_cost <= s.provision_finance_limit:
        return "finops", "finops"
    return "finance", "executive"


def submit(con: duckdb.DuckDBPyConnection, user: User, req: Request) -> tuple[int, Decision]:
    """Record the request with its decision: approved at once when within quota and budget, else pending."""
    d = check(con, user, req)
    with transaction(con):
        no = int(con.execute(
            "INSERT INTO provisioning_request (requested_by, cost_center_id, app_id, resource_class, quantity,"
            " est_monthly_cost, justification, state, approver_level, approver, decision, decided_by, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CASE WHEN ? THEN current_timestamp END)"
            " RETURNING request_no",
            [user.username, req.cost_center_id, req.app_id, req.resource_class, req.quantity, req.est_monthly_cost,
             req.justification.strip(), "approved" if d.approved else "pending", d.level, d.approver,
             _json(d), "automatic" if d.approved else None, d.approved]).fetchall()[0][0])
        audit.record(con, user.username, "provision.request", "provisioning_request", str(no),
                     {"request": {k: str(v) for k, v in asdict(req).items()}, "decision": d.as_dict()})
    return no, d


def _json(d: Decision) -> str:
    return json.dumps(d.as_dict(), sort_keys=True)


def decide(con: duckdb.DuckDBPyConnection, request_no: int, approver: str, approve: bool, reason: str) -> str:
    """Approve or reject a pending request: the named owner, or a role at or above the request's level; never the
    requester. Returns the new state."""
    rows = con.execute("SELECT requested_by, state, approver_level, approver FROM provisioning_request"
                       " WHERE request_no = ?", [request_no]).fetchall()
    if not rows:
        raise NotFound(f"no provisioning request {request_no}")
    requested_by, state, level, named = rows[0]
    if state != "pending":
        raise InputError(f"request {request_no} is {state}, not pending")
    if not reason.strip():
        raise InputError("say why: the reason goes to the requester and the audit trail")
    username = known_user(con, approver)
    user = get_user(con, username) if username else None
    if user is None:
        raise AccessDenied(f"{approver!r} is not a user of this store")
    if identity(user.username) == identity(requested_by):
        raise AccessDenied(f"{user.username} made request {request_no}: someone else must decide it")
    named_owner = level == "cost_center_owner" and identity(user.username) == identity(named)
    if not named_owner and user.role not in LEVEL_ROLES[level]:
        raise AccessDenied(f"request {request_no} needs {named if level == 'cost_center_owner' else level} "
                           f"approval; {user.username} ({user.role}) cannot decide it")
    new = "approved" if approve else "rejected"
    with transaction(con):
        con.execute("UPDATE provisioning_request SET state = ?, decided_by = ?, decided_at = current_timestamp"
                    " WHERE request_no = ?", [new, user.username, request_no])
        audit.record(con, user.username, f"provision.{'approve' if approve else 'reject'}", "provisioning_request",
                     str(request_no), {"reason": reason.strip(), "level": level})
    return new
