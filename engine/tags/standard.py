"""The tag standard in force, edited by FinOps and kept as versions: required keys and the values allowed per key.

Coverage, tag hygiene and the Reconciliation page read `current`; `save` appends a version and an audit event in
one transaction. Key aliases are applied when lines are loaded, so they are not edited here (a changed alias would
only reach files loaded afterwards); docs/ingestion.md lists them.
"""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb
import polars as pl

from engine import store
from engine.access import policy
from engine.access.users import User
from engine.errors import InputError
from engine.store import audit
from engine.store.sql import frame
from engine.tags.normalise import TagStandard, canonical_key

MAX_KEYS = 20
MAX_VALUES = 500
MAX_KEY_LENGTH = 63


class StandardError(InputError):
    """A tag standard a user typed that cannot be saved; the message says what to change."""


def current(con: duckdb.DuckDBPyConnection) -> TagStandard:
    """The newest saved version, or the built-in default when nobody has saved one."""
    rows = con.sql("SELECT body FROM tag_standard ORDER BY version DESC LIMIT 1").fetchall()
    if not rows:
        return TagStandard()
    saved = TagStandard.from_json(str(rows[0][0]))
    return replace(TagStandard(), required=saved.required, allowed=saved.allowed)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.sql("SELECT coalesce(max(version), 0) FROM tag_standard").fetchall()[0][0])


def parse(required: list[str] | tuple[str, ...], allowed_text: str) -> TagStandard:
    """A standard from what the editor holds: required keys, and one line per restricted key
    (`environment: prod, staging, dev`). Keys are normalised as at ingest (`Cost Center` → `cost_center`)."""
    keys = _keys(required, "required tag")
    allowed: dict[str, tuple[str, ...]] = {}
    for n, line in enumerate(allowed_text.splitlines(), 1):
        if not line.strip():
            continue
        if ":" not in line:
            raise StandardError(f"allowed values, line {n}: expected 'key: value, value', got '{line.strip()[:60]}'")
        raw_key, _, raw_values = line.partition(":")
        key = _keys([raw_key], f"allowed values, line {n}: key")[0]
        if key in allowed:
            raise StandardError(f"allowed values, line {n}: '{key}' is listed twice")
        values = tuple(dict.fromkeys(v.strip() for v in raw_values.split(",") if v.strip()))
        if not values:
            raise StandardError(f"allowed values, line {n}: '{key}' needs at least one value")
        if len(values) > MAX_VALUES:
            raise StandardError(f"allowed values, line {n}: at most {MAX_VALUES} values per key")
        allowed[key] = values
    return replace(TagStandard(), required=keys, allowed=allowed)


def _keys(raw: list[str] | tuple[str, ...], what: str) -> tuple[str, ...]:
    out: list[str] = []
    for r in raw:
        k = canonical_key(str(r))
        if not k:
            continue
        if len(k) > MAX_KEY_LENGTH:
            raise StandardError(f"{what} '{str(r).strip()[:60]}…': at most {MAX_KEY_LENGTH} characters")
        if k not in out:
            out.append(k)
    if len(out) > MAX_KEYS:
        raise StandardError(f"at most {MAX_KEYS} {what}s")
    return tuple(out)


def allowed_text(std: TagStandard) -> str:
    """The editor's text for a standard (inverse of `parse`)."""
    return "\n".join(f"{k}: {', '.join(v)}" for k, v in std.allowed.items())


def save(con: duckdb.DuckDBPyConnection, std: TagStandard, user: User, note: str = "") -> int:
    """Append a version (unless it equals the one in force) with an audit event; returns the version in force.
    Only FinOps and admins may: checked here, whatever the page showed."""
    policy.require(user, "edit_tag_standard", "change the tag standard")
    if not std.required:
        raise StandardError("at least one required tag (coverage would otherwise be 100% by definition)")
    before, in_force = current(con), current_version(con)
    if in_force and (before.required, before.allowed) == (std.required, std.allowed):
        return in_force
    rules = {"required": list(std.required), "allowed": {k: list(v) for k, v in std.allowed.items()}}
    with store.transaction(con):
        version = in_force + 1
        con.execute("INSERT INTO tag_standard (version, body, saved_by, note) VALUES (?, ?, ?, ?)",
                    [version, json.dumps(rules, sort_keys=True), user.username, note or None])
        audit.record(con, user.username, "tag_standard_saved", "tag_standard", str(version),
                     {**rules, "previous_required": list(before.required), "note": note})
    return version


def history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return frame(con.sql("SELECT version, saved_at, saved_by, note, body FROM tag_standard ORDER BY version DESC"))
