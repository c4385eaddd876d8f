"""Rule set versions: draft → pending (submitted, immutable from then on) → approved or rejected.

Every change is a new version with a parent, an author, a reason and an effective month, and every transition
writes an audit event in the same transaction. The approver must not be the author. A rollback never rewrites
history: it submits a new version carrying an earlier body. `as_of` finds the version in force for a month, so
any closed month can be recomputed with the rules of its time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

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


_COLS = "name, version, status, author, approver, reason, effective_from, parent_version, body_hash, created_at, body"


def _row(r: tuple[Any, ...]) -> RuleVersion:
    body = json.loads(r[10]) if isinstance(r[10], str) else r[10]
    return RuleVersion(name=r[0], version=r[1], status=r[2], author=r[3], approver=r[4], reason=r[5],
                       effective_from=r[6], parent_version=r[7], body_hash=r[8], created_at=r[9],
                       rule_set=from_data(body))


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
        con.execute("UPDATE rule_set SET body = ?, body_hash = ? WHERE name = ? AND version = ?",
                    [rule_set.body_json(), rule_set.body_hash(), name, version])
        audit.record(con, actor, "rule.edit", "rule_set", f"{name}@{version}", {"body_hash": rule_set.body_hash()})


def _transition(con: duckdb.DuckDBPyConnection, name: str, version: int, actor: str, frm: str, to: str,
                action: str, reason: str | None = None) -> None:
    with transaction(con):
        current = get(con, name, version)
        if current.status != frm:
            raise VersionError(f"{name} v{version} is {current.status}, not {frm}")
        if to in ("approved", "rejected") and actor == current.author:
            raise VersionError(f"{actor} wrote {name} v{version} and cannot also {action.split('.')[1]} it")
        if to in ("approved", "rejected"):
            con.execute("UPDATE rule_set SET status = ?, approver = ? WHERE name = ? AND version = ?",
                        [to, actor, name, version])
        else:
            con.execute("UPDATE rule_set SET status = ? WHERE name = ? AND version = ?", [to, name, version])
        audit.record(con, actor, action, "rule_set", f"{name}@{version}",
                     {"from": frm, "to": to, "reason": reason, "body_hash": current.body_hash})


def submit(con: duckdb.DuckDBPyConnection, name: str, version: int, actor: str) -> None:
    """Freeze a draft for approval; from now on its body never changes."""
    _transition(con, name, version, actor, "draft", "pending", "rule.submit")


def approve(con: duckdb.DuckDBPyConnection, name: str, version: int, approver: str) -> None:
    _transition(con, name, version, approver, "pending", "approved", "rule.approve")


def reject(con: duckdb.DuckDBPyConnection, name: str, version: int, approver: str, reason: str) -> None:
    _transition(con, name, version, approver, "pending", "rejected", "rule.reject", reason)


def rollback(con: duckdb.DuckDBPyConnection, name: str, to_version: int, author: str, reason: str,
             effective_from: str | None = None) -> int:
    """Submit a new version whose body is `to_version`'s; it still needs an approver like any other change."""
    _check_period(effective_from)
    with transaction(con):
        old = get(con, name, to_version)
        version = _next_version(con, name)
        con.execute(
            "INSERT INTO rule_set (name, version, status, author, reason, effective_from, parent_version, body,"
            " body_hash) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
            [name, version, author, f"rollback to v{to_version}: {reason}", effective_from or old.effective_from,
             version - 1, old.rule_set.body_json(), old.body_hash],
        )
        audit.record(con, author, "rule.rollback", "rule_set", f"{name}@{version}",
                     {"to_version": to_version, "reason": reason, "body_hash": old.body_hash})
    return version


def publish(con: duckdb.DuckDBPyConnection, rule_set: RuleSet, author: str, approver: str, reason: str,
            effective_from: str | None = None) -> int:
    """Draft, submit and approve in one go (seeding the demo, tests); still two people, still audited."""
    v = create_draft(con, rule_set, author, reason, effective_from)
    submit(con, rule_set.name, v, author)
    approve(con, rule_set.name, v, approver)
    return v
