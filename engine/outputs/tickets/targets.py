"""Ticket targets: where tickets go, kept as configuration in the store (table ticket_target, migration 0009).

A target names its token's *environment variable*, never the token: the store can be copied, backed up and read by
an auditor without handing out credentials, and rotating a token is a change to the environment, not to the data.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import duckdb
import httpx

from engine.errors import ConfigError, InputError, NotFound
from engine.store import audit, transaction

Kind = Literal["jira", "servicenow", "webhook"]
KINDS: tuple[str, ...] = get_args(Kind)
DEFAULT_ISSUE_TYPE = "Task"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_JIRA_PROJECT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")
_COLUMNS = ("name", "kind", "base_url", "token_env", "project_key", "issue_type", "assignment_group",
            "cost_center_id", "enabled")


@dataclass(frozen=True)
class TicketTarget:
    """One ticket system (or webhook receiver) and the fields its kind needs."""

    name: str
    kind: str
    base_url: str
    token_env: str
    project_key: str | None = None        # jira
    issue_type: str | None = None         # jira; Task when None
    assignment_group: str | None = None   # servicenow
    cost_center_id: str | None = None     # scope; None = every cost centre
    enabled: bool = True

    def root(self) -> str:
        """The base URL API paths are appended to (no trailing slash); a webhook posts to `base_url` itself."""
        return self.base_url.rstrip("/")

    def serves(self, cost_center_id: str | None) -> bool:
        return self.cost_center_id is None or self.cost_center_id == cost_center_id


def now_utc() -> datetime:
    """Naive UTC, the way every timestamp of these tables is written and compared."""
    return datetime.now(UTC).replace(tzinfo=None)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _clean(target: TicketTarget) -> TicketTarget:
    """Trimmed and checked; every problem in one InputError naming the target."""

    def opt(v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    t = replace(target, name=target.name.strip(), kind=target.kind.strip().lower(), base_url=target.base_url.strip(),
                token_env=target.token_env.strip(), project_key=opt(target.project_key),
                issue_type=opt(target.issue_type), assignment_group=opt(target.assignment_group),
                cost_center_id=opt(target.cost_center_id))
    problems: list[str] = []
    if not _NAME.match(t.name):
        problems.append("name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if t.kind not in KINDS:
        problems.append(f"kind must be one of {', '.join(KINDS)} (got {t.kind!r})")
    try:
        url = httpx.URL(t.base_url)
        if url.userinfo:
            problems.append(f"base URL of {t.name!r} must not carry a user name or password (the token comes from "
                            "the environment variable)")
        elif url.scheme not in ("http", "https") or not url.host:
            problems.append(f"base URL {t.base_url!r} must be an http(s) address with a host")
        elif url.scheme == "http" and not _is_loopback(url.host):
            problems.append(f"base URL {t.base_url!r} must use https (the token travels in a header); plain http "
                            "is accepted for loopback addresses only")
        elif url.query or url.fragment:
            problems.append(f"base URL {t.base_url!r} must not carry a query or fragment")
    except httpx.InvalidURL as exc:
        problems.append(f"base URL {t.base_url!r} is not a URL ({exc})")
    if not _ENV_NAME.match(t.token_env):
        problems.append(f"token variable {t.token_env!r} must be an environment variable name (letters, digits, _) "
                        "— the token itself is never stored")
    if t.kind == "jira":
        if t.project_key is None:
            problems.append("a jira target needs a project key")
        elif not _JIRA_PROJECT.match(t.project_key):
            problems.append(f"jira project key {t.project_key!r} must be letters, digits and _")
    else:
        if t.project_key is not None or t.issue_type is not None:
            problems.append("project key and issue type are for jira targets only")
    if t.kind != "servicenow" and t.assignment_group is not None:
        problems.append("assignment group is for servicenow targets only")
    if problems:
        raise InputError(f"ticket target {t.name or '(no name)'!r}: " + "; ".join(problems))
    return t


def _check_cost_center(con: duckdb.DuckDBPyConnection, cost_center_id: str | None) -> None:
    if cost_center_id is None:
        return
    found = con.execute("SELECT 1 FROM org_unit WHERE unit_id = ? AND kind = 'cost_center'",
                        [cost_center_id]).fetchall()
    if not found:
        raise NotFound(f"no cost centre {cost_center_id!r} to scope a ticket target to")


def _row_to_target(row: tuple[Any, ...]) -> TicketTarget:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["enabled"] = bool(values["enabled"])
    return TicketTarget(**values)


def _select(where: str = "", params: list[Any] | None = None) -> tuple[str, list[Any]]:
    return f"SELECT {', '.join(_COLUMNS)} FROM ticket_target {where} ORDER BY name", params or []


def get_target(con: duckdb.DuckDBPyConnection, name: str) -> TicketTarget:
    sql, params = _select("WHERE name = ?", [name])
    rows = con.execute(sql, params).fetchall()
    if not rows:
        known = ", ".join(t.name for t in list_targets(con)) or "none configured yet"
        raise NotFound(f"no ticket target named {name!r} (known: {known})")
    return _row_to_target(rows[0])


def list_targets(con: duckdb.DuckDBPyConnection, *, include_disabled: bool = True) -> list[TicketTarget]:
    sql, params = _select("" if include_disabled else "WHERE enabled")
    return [_row_to_target(r) for r in con.execute(sql, params).fetchall()]


def targets_for(con: duckdb.DuckDBPyConnection, cost_center_id: str | None) -> list[TicketTarget]:
    """Enabled targets that take tickets for this cost centre (their scope is it, or every cost centre)."""
    return [t for t in list_targets(con, include_disabled=False) if t.serves(cost_center_id)]


def _values(t: TicketTarget) -> list[Any]:
    return [getattr(t, c) for c in _COLUMNS]


def add_target(con: duckdb.DuckDBPyConnection, target: TicketTarget, actor: str) -> TicketTarget:
    """Create a target; the name must be new (change one with `update_target`)."""
    t = _clean(target)
    with transaction(con):
        if con.execute("SELECT 1 FROM ticket_target WHERE name = ?", [t.name]).fetchall():
            raise InputError(f"a ticket target named {t.name!r} already exists; update it instead")
        _check_cost_center(con, t.cost_center_id)
        now = now_utc()
        con.execute(f"INSERT INTO ticket_target ({', '.join(_COLUMNS)}, created_by, created_at, updated_at)"
                    f" VALUES ({', '.join('?' * (len(_COLUMNS) + 3))})", [*_values(t), actor, now, now])
        audit.record(con, actor, "ticket_target.add", "ticket_target", t.name,
                     {c: getattr(t, c) for c in _COLUMNS if c != "name"})
    return t


def update_target(con: duckdb.DuckDBPyConnection, target: TicketTarget, actor: str) -> TicketTarget:
    """Replace the configuration of the target with this name (also how a disabled target is enabled again).
    Tickets already opened keep their references; pending ones are sent with the new configuration."""
    t = _clean(target)
    with transaction(con):
        old = get_target(con, t.name)
        _check_cost_center(con, t.cost_center_id)
        changed = {f.name: [getattr(old, f.name), getattr(t, f.name)] for f in fields(TicketTarget)
                   if getattr(old, f.name) != getattr(t, f.name)}
        if changed:
            sets = ", ".join(f"{c} = ?" for c in _COLUMNS if c != "name")
            con.execute(f"UPDATE ticket_target SET {sets}, updated_at = ? WHERE name = ?",
                        [*_values(t)[1:], now_utc(), t.name])
            audit.record(con, actor, "ticket_target.update", "ticket_target", t.name, {"changed": changed})
    return t


def disable_target(con: duckdb.DuckDBPyConnection, name: str, actor: str) -> TicketTarget:
    """Stop sending to a target: `open_ticket` refuses it and `retry_pending` leaves its pending tickets alone."""
    with transaction(con):
        old = get_target(con, name)
        if old.enabled:
            con.execute("UPDATE ticket_target SET enabled = FALSE, updated_at = ? WHERE name = ?", [now_utc(), name])
            audit.record(con, actor, "ticket_target.disable", "ticket_target", name, {})
    return replace(old, enabled=False)


def token_for(target: TicketTarget, environ: Mapping[str, str] | None = None) -> str:
    """The target's token, read from its environment variable now; missing or empty is a ConfigError naming it."""
    env: Mapping[str, str] = os.environ if environ is None else environ
    token = env.get(target.token_env, "").strip()
    if not token:
        raise ConfigError(f"ticket target {target.name!r}: environment variable {target.token_env} is not set "
                          "(it must hold the API token; the token is never stored in Apportion)")
    return token
