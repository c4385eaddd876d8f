"""Rule set versions: draft → pending (submitted, immutable from then on) → approved or rejected.

Every change is a new version with a parent, an author, a reason and an effective month, and every transition
writes an audit event in the same transaction. A rollback never rewrites history: it submits a new version
carrying an earlier body. `as_of` finds the version in force for a month, so any closed month can be recomputed
with the rules of its time.

Maker-checker is enforced here, whatever a page offers: the approver (or rejecter) is named by an identity that is
normalised (NFKC, format characters such as zero-width spaces removed, trimmed, case-folded) and must resolve to
exactly one user in app_user whose role holds "approve_rules" (engine/access/policy.py); that identity must differ
from the author and from everyone who edited the body (the `editors` column, and the audit trail for versions
written before it existed). "Fiona", "fiona ", "FIONA", "ｆｉｏｎａ" and "fi\u200bona" are all Fiona.

The checker's comment (why it was approved or rejected) is kept on the version (`approval_comment`) and in the
audit event. A rollback carries its own effective month: by default the first open month (the month after the
latest posted one, or the current month when nothing is posted); a month before the latest posted one would
restate closed months and is refused unless the caller says so (`allow_restatement=True`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from engine.access.identity import checker, identity, known_user
from engine.errors import InputError
from engine.rules.model import RuleSet, from_data
from engine.store import audit, transaction

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class VersionError(InputError):
    """A transition the workflow does not allow (editing a submitted version, self-approval, …)."""


@dataclass(frozen=True)
class RuleVersion:
    name: str
    version: int
    status: str
    author: str
    approver: str | None
    reason: str | None
    effective_from: str | None
    parent_version: int | None
    body_hash: str
    created_at: datetime
    rule_set: RuleSet
    editors: tuple[str, ...] = ()  # everyone but the author who changed the body while it was a draft
    approval_comment: str | None = None  # the checker's reason for approving or rejecting


_COLS = ("name, version, status, author, approver, reason, effective_from, parent_version, body_hash, created_at,"
         " body, editors, approval_comment")


def _row(r: tuple[Any, ...]) -> RuleVersion:
    body = json.loads(r[10]) if isinstance(r[10], str) else r[10]
    return RuleVersion(name=r[0], version=r[1], status=r[2], author=r[3], approver=r[4], reason=r[5],
                       effective_from=r[6], parent_version=r[7], body_hash=r[8], created_at=r[9],
                       rule_set=from_data(body), editors=tuple(r[11] or ()),
                       approval_comment=r[12])


def _maker(con: duckdb.DuckDBPyConnection, name: str, what: str) -> str:
    """How an author or editor is recorded: the app_user username when known, else the normalised name."""
    key = identity(name)
    if not key:
        raise VersionError(f"{what} needs the name of who makes the change")
    return known_user(con, name) or key


def makers(con: duckdb.DuckDBPyConnection, rv: RuleVersion) -> dict[str, str]:
    """identity → how each person who wrote `rv`'s body appears: the author, its editors, and for versions from
    before the editors column the actors of its draft, edit and rollback events in the audit trail."""
    people = [rv.author, *rv.editors]
    people += [a for (a,) in con.execute(
        "SELECT DISTINCT actor FROM audit_event WHERE entity = 'rule_set' AND entity_id = ?"
        " AND action IN ('rule.draft', 'rule.edit', 'rule.rollback') ORDER BY 1",
        [f"{rv.name}@{rv.version}"]).fetchall()]
    out: dict[str, str] = {}
    for p in people:
        out.setdefault(identity(p), p)
    return out


def _check_period(p: str | None) -> None:
    if p is not None and not PERIOD.match(p):
        raise VersionError(f"effective_from must be YYYY-MM, not {p!r}")


def get(con: duckdb.DuckDBPyConnection, name: str, version: int) -> RuleVersion:
    rows = con.sql(f"SELECT {_COLS} FROM rule_set WHERE name = ? AND version = ?", params=[name, version]).fetchall()
    if not rows:
        raise VersionError(f"rule set {name!r} has no version {version}")
    return _row(rows[0])


def list_versions(con: duckdb.DuckDBPyConnection, name: str | None = None) -> list[RuleVersion]:
    if name is None:
        rows = con.sql(f"SELECT {_COLS} FROM rule_set ORDER BY name, version").fetchall()
    else:
        rows = con.sql(f"SELECT {_COLS} FROM rule_set WHERE name = ? ORDER BY version", params=[name]).fetchall()
    return [_row(r) for r in rows]


def as_of(con: duckdb.DuckDBPyConnection, name: str, period: str) -> RuleVersion:
    """The approved version in force for `period`: latest effective_from ≤ period, then highest version."""
    rows = con.sql(
        f"SELECT {_COLS} FROM rule_set WHERE name = ? AND status = 'approved'"
        " AND coalesce(effective_from, '0000-00') <= ? ORDER BY coalesce(effective_from, '0000-00') DESC,"
        " version DESC LIMIT 1",
        params=[name, period],
    ).fetchall()
    if not rows:
        raise VersionError(f"rule set {name!r} has no approved version in force for {period}")
    return _row(rows[0])


def _next_version(con: duckdb.DuckDBPyConnection, name: str) -> int:
    return int(con.sql("SELECT coalesce(max(version), 0) + 1 FROM rule_set WHERE name = ?",
                       params=[name]).fetchall()[0][0])


def create_draft(con: duckdb.DuckDBPyConnection, rule_set: RuleSet, author: str, reason: str,
                 effective_from: str | None = None, parent_version: int | None = None) -> int:
    """A new editable version; its parent defaults to the latest existing version of the same name."""
    _check_period(effective_from)
    with transaction(con):
        author = _maker(con, author, f"a draft of {rule_set.name}")
        version = _next_version(con, rule_set.name)
        if parent_version is None and version > 1:
            parent_version = version - 1
        con.execute(
            "INSERT INTO rule_set (name, version, status, author, reason, effective_from, parent_version, body,"
            " body_hash) VALUES (?, ?, 'draft', ?, ?, ?, ?, ?, ?)",
            [rule_set.name, version, author, reason, effective_from, parent_version, rule_set.body_json(),
             rule_set.body_hash()],
        )
        audit.record(con, author, "rule.draft", "rule_set", f"{rule_set.name}@{version}",
                     {"reason": reason, "parent": parent_version, "body_hash": rule_set.body_hash()})
    return version


def update_draft(con: duckdb.DuckDBPyConnection, name: str, version: int, rule_set: RuleSet, actor: str) -> None:
    if rule_set.name != name:
        raise VersionError("a draft cannot be renamed; create a new rule set instead")
    with transaction(con):
        current = get(con, name, version)
        if current.status != "draft":
            raise VersionError(f"{name} v{version} is {current.status}: submitted versions are immutable")
        actor = _maker(con, actor, f"editing {name} v{version}")
        editors = list(current.editors)
        if identity(actor) not in makers(con, current):
            editors.append(actor)  # a second pair of hands on the body: no longer a possible checker
        con.execute("UPDATE rule_set SET body = ?, body_hash = ?, editors = ? WHERE name = ? AND version = ?",
                    [rule_set.body_json(), rule_set.body_hash(), editors or None, name, version])
        audit.record(con, actor, "rule.edit", "rule_set", f"{name}@{version}",
                     {"body_hash": rule_set.body_hash(), "editors": editors})


def _transition(con: duckdb.DuckDBPyConnection, name: str, version: int, actor: str, frm: str, to: str,
                action: str, reason: str | None = None) -> None:
    verb = action.split(".")[1]
    what = f"{name} v{version}"
    if to in ("approved", "rejected") and not identity(actor):
        raise InputError(f"no approver given: name the user who is to {verb} {what}")
    with transaction(con):
        current = get(con, name, version)
        if current.status != frm:
            raise VersionError(f"{what} is {current.status}, not {frm}")
        detail: dict[str, Any] = {"from": frm, "to": to, "reason": reason, "body_hash": current.body_hash}
        if to in ("approved", "rejected"):
            wrote = makers(con, current)
            if identity(actor) in wrote:
                did = "wrote" if identity(actor) == identity(current.author) else "edited"
                raise VersionError(f"{wrote[identity(actor)]} {did} {what} and cannot also {verb} it: a second "
                                   "person must")
            actor = checker(con, actor, "approve_rules", verb, what, "approve rule changes").username
            con.execute("UPDATE rule_set SET status = ?, approver = ?, approval_comment = ? WHERE name = ?"
                        " AND version = ?", [to, actor, reason, name, version])
            detail["makers"] = sorted(wrote.values())
        else:
            actor = _maker(con, actor, f"submitting {what}")
            con.execute("UPDATE rule_set SET status = ? WHERE name = ? AND version = ?", [to, name, version])
        audit.record(con, actor, action, "rule_set", f"{name}@{version}", detail)


def submit(con: duckdb.DuckDBPyConnection, name: str, version: int, actor: str) -> None:
    """Freeze a draft for approval; from now on its body never changes."""
    _transition(con, name, version, actor, "draft", "pending", "rule.submit")


def approve(con: duckdb.DuckDBPyConnection, name: str, version: int, approver: str,
            reason: str | None = None) -> None:
    """Approve a pending version: `approver` must be a known user with "approve_rules" who did not write it.
    `reason` is the approver's comment: kept on the version (`approval_comment`) and in the audit event."""
    _transition(con, name, version, approver, "pending", "approved", "rule.approve",
                reason.strip() or None if reason is not None else None)


def reject(con: duckdb.DuckDBPyConnection, name: str, version: int, approver: str, reason: str) -> None:
    """Reject a pending version; the same people may do it as may approve it."""
    _transition(con, name, version, approver, "pending", "rejected", "rule.reject", reason)


def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _next_month(period: str) -> str:
    y, m = int(period[:4]), int(period[5:])
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def latest_posted_period(con: duckdb.DuckDBPyConnection) -> str | None:
    """The latest month that is posted (a posted run of any rule set: months close for the whole organisation) or
    locked (engine/allocation/periods.py; a submitted close names a posted run, so it is covered too)."""
    from engine.allocation import periods  # the allocation package imports this module

    posted = con.execute("SELECT max(period) FROM allocation_run WHERE status = 'posted'").fetchall()[0][0]
    months = [str(m) for m in (posted, *periods.locked_periods(con)) if m]
    return max(months) if months else None


def first_open_period(con: duckdb.DuckDBPyConnection, today: date | None = None) -> str:
    """The first month a new rule version can take effect without restating a closed one: the month after the
    latest posted month, or the current month when nothing is posted yet."""
    latest = latest_posted_period(con)
    return _next_month(latest) if latest is not None else _month(today or date.today())


def rollback(con: duckdb.DuckDBPyConnection, name: str, to_version: int, author: str, reason: str,
             effective_from: str | None = None, *, allow_restatement: bool = False,
             today: date | None = None) -> int:
    """Submit a new version whose body is `to_version`'s; it still needs an approver like any other change.

    It takes effect from `effective_from` (default: `first_open_period`), never from the old version's month, so
    approving it does not silently re-apply old rules to closed months. A month before the latest posted one is
    refused unless `allow_restatement` is set (a deliberate restatement of closed months)."""
    _check_period(effective_from)
    with transaction(con):
        author = _maker(con, author, f"rolling back {name}")
        old = get(con, name, to_version)
        effective = effective_from or first_open_period(con, today)
        latest = latest_posted_period(con)
        if latest is not None and effective < latest and not allow_restatement:
            raise VersionError(f"a rollback effective from {effective} would restate closed months up to {latest}:"
                               f" choose {latest} or later (the first open month is"
                               f" {first_open_period(con, today)}), or allow a restatement explicitly")
        version = _next_version(con, name)
        con.execute(
            "INSERT INTO rule_set (name, version, status, author, reason, effective_from, parent_version, body,"
            " body_hash) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
            [name, version, author, f"rollback to v{to_version}: {reason}", effective, version - 1,
             old.rule_set.body_json(), old.body_hash],
        )
        audit.record(con, author, "rule.rollback", "rule_set", f"{name}@{version}",
                     {"to_version": to_version, "reason": reason, "body_hash": old.body_hash,
                      "effective_from": effective, "restates": bool(latest is not None and effective <= latest)})
    return version


def publish(con: duckdb.DuckDBPyConnection, rule_set: RuleSet, author: str, approver: str, reason: str,
            effective_from: str | None = None) -> int:
    """Draft, submit and approve in one go (seeding the demo, tests); still two people, still audited."""
    v = create_draft(con, rule_set, author, reason, effective_from)
    submit(con, rule_set.name, v, author)
    approve(con, rule_set.name, v, approver)
    return v
