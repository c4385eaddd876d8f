"""Scope versions per rule set, kept like the tag standard (engine/tags/standard.py): every save appends a version
and an audit event in one transaction, nothing is updated or deleted. Like rule versions, each carries an effective
month, and `as_of` finds the version in force for a month so a closed month re-runs with the scope of its time.

Only roles holding `edit_scope` may save (checked here, whatever a page offered). There is no separate checker: a
scope change reaches the books only through a month close, which needs a second person to approve (periods.py),
and the Rule versions / Month close pages show what a run posted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb

from engine import store
from engine.access import policy
from engine.access.users import User
from engine.errors import InputError
from engine.rules.versions import PERIOD
from engine.scope.model import PoolScope, Scope, parse
from engine.store import audit


@dataclass(frozen=True)
class ScopeVersion:
    rule_set: str
    version: int
    effective_from: str | None
    scope: Scope
    saved_by: str
    saved_at: datetime
    note: str | None


_COLS = "rule_set, version, effective_from, body, saved_by, saved_at, note"


def _row(r: tuple[Any, ...]) -> ScopeVersion:
    return ScopeVersion(r[0], int(r[1]), r[2], parse(_json(r[3])), r[4], r[5], r[6])


def _json(body: object) -> object:
    return json.loads(body) if isinstance(body, str) else body


def as_of(con: duckdb.DuckDBPyConnection, rule_set: str, period: str) -> ScopeVersion | None:
    """The version in force for `period`: latest effective_from ≤ period (NULL = always), then highest version.
    None when nobody saved a scope for the rule set: the rule set then runs exactly as approved."""
    rows = con.execute(
        f"SELECT {_COLS} FROM scope_version WHERE rule_set = ? AND coalesce(effective_from, '0000-00') <= ?"
        " ORDER BY coalesce(effective_from, '0000-00') DESC, version DESC LIMIT 1", [rule_set, period]).fetchall()
    return _row(rows[0]) if rows else None


def history(con: duckdb.DuckDBPyConnection, rule_set: str) -> list[ScopeVersion]:
    rows = con.execute(f"SELECT {_COLS} FROM scope_version WHERE rule_set = ? ORDER BY version DESC",
                       [rule_set]).fetchall()
    return [_row(r) for r in rows]


def save(con: duckdb.DuckDBPyConnection, rule_set: str, scope: Scope, user: User | None,
         effective_from: str | None, note: str = "") -> int:
    """Append a version of `rule_set`'s scope effective from a month (None: every month); returns its number.
    Saving what is already in force for that month appends nothing and returns the version in force."""
    policy.require(user, "edit_scope", "change the scope and basis of pools")
    assert user is not None
    if effective_from is not None and not PERIOD.match(effective_from):
        raise InputError(f"effective from must be YYYY-MM, not {effective_from!r}")
    with store.transaction(con):
        current = as_of(con, rule_set, effective_from or "0000-00")
        if current is not None and current.effective_from == effective_from and \
                current.scope.digest() == scope.digest():
            return current.version
        version = int(con.execute("SELECT coalesce(max(version), 0) + 1 FROM scope_version WHERE rule_set = ?",
                                  [rule_set]).fetchall()[0][0])
        con.execute("INSERT INTO scope_version (rule_set, version, effective_from, body, saved_by, note)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [rule_set, version, effective_from, scope.body_json(), user.username, note.strip() or None])
        audit.record(con, user.username, "scope.save", "scope_version", f"{rule_set}@{version}", {
            "effective_from": effective_from, "digest": scope.digest(), "note": note.strip(),
            "previous": current.version if current else None,
            "threshold_pct": str(scope.threshold_pct), "pools": sorted(scope.pools),
        })
    return version


def in_force(con: duckdb.DuckDBPyConnection, rule_set: str, period: str) -> Scope:
    """The scope in force for a month, or the empty scope (nothing changes) when none was saved."""
    sv = as_of(con, rule_set, period)
    return sv.scope if sv is not None else Scope()


def save_pool(con: duckdb.DuckDBPyConnection, rule_set: str, step_id: str, pool: PoolScope, user: User | None,
              effective_from: str, note: str = "") -> int:
    """One pool's owner, basis, granularity and flags changed from a month on; the rest of the scope as in force."""
    scope = in_force(con, rule_set, effective_from).with_pool(step_id, pool)
    return save(con, rule_set, scope, user, effective_from, note)


def save_model(con: duckdb.DuckDBPyConnection, rule_set: str, threshold_pct: Decimal, overhead_driver: str,
               critical_classes: list[str], user: User | None, effective_from: str, note: str = "") -> int:
    """The materiality threshold, the overhead pool's driver and the critical asset classes, from a month on."""
    current = in_force(con, rule_set, effective_from)
    scope = parse({**current.model_dump(mode="json"), "threshold_pct": str(threshold_pct),
                   "overhead_driver": overhead_driver, "critical_classes": sorted(set(critical_classes))})
    return save(con, rule_set, scope, user, effective_from, note)
