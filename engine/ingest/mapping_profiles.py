"""Named column mappings for generic CSV/XLSX/Parquet files, saved in the store, versioned and audited.

A FinOps lead maps a procurement spreadsheet or a cost report once (the Ingest page's editor, or a YAML file with
`python -m engine mapping save`); the monthly job then loads the next one headless with
`python -m engine ingest FILE --source generic --mapping NAME`. The profile is plain data (pydantic, JSON in the
table) so the parent process can read it from the store and hand it to the sandboxed child, which never opens the
store: `ingest_file(con, path, kind="generic", options={"mapping": profile.model_dump(mode="json")})`.

Versions (migration 0027, docs/ingestion.md "Column mappings"): each save that changes a profile appends version
N+1 with who, when and the comment; the newest is in force (and mirrored in `mapping_profile`); saving the profile in
force unchanged adds nothing (a comment alone is not a change); a delete appends a tombstone and leaves the history
readable. Saving and deleting need `edit_mappings` (engine/access/policy.py) and write one audit event each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
from pydantic import ValidationError

from engine.access.policy import require
from engine.access.users import User, get_user
from engine.errors import InputError, NotFound, invalid
from engine.ingest.contract.mapping import TAG_COLUMNS, MappingProfile
from engine.store import audit, transaction
from engine.tags.normalise import canonical_key


@dataclass(frozen=True)
class ProfileVersion:
    name: str
    version: int
    target_table: str
    saved_by: str
    saved_at: datetime
    comment: str
    deleted: bool


@dataclass(frozen=True)
class SaveResult:
    version: int
    changed: bool            # False: the profile in force already was this one; nothing was written


def _body(profile: MappingProfile) -> dict[str, Any]:
    return profile.model_dump(mode="json")


def _actor(con: duckdb.DuckDBPyConnection, user: User | str | None) -> User | None:
    """A name (the CLI's --user) is looked up in the store: its role there decides, never the caller's word."""
    return get_user(con, user) if isinstance(user, str) else user


def check_tag_keys(profile: MappingProfile) -> None:
    """Two tag keys that normalise to one key would keep only the first: refused with both spellings named."""
    seen: dict[str, str] = {}
    keys = [*(TAG_COLUMNS[t] for t in profile.columns if t in TAG_COLUMNS), *profile.tags]
    keys += [TAG_COLUMNS[t] for t in profile.constants if t in TAG_COLUMNS]
    for key in keys:
        k = canonical_key(key)
        if k in seen:
            raise InputError(f"tag keys {seen[k]!r} and {key!r} are both the tag '{k}' once normalised; keep one")
        seen[k] = key


def parse_profile(data: object) -> MappingProfile:
    """A profile from plain data (a form, a YAML document), or one InputError saying what is wrong."""
    try:
        profile = MappingProfile.model_validate(data)
    except ValidationError as exc:
        raise invalid("column mapping", exc) from None
    check_tag_keys(profile)
    return profile


def save_profile(con: duckdb.DuckDBPyConnection, profile: MappingProfile, *, user: User | str | None = None,
                 comment: str = "") -> SaveResult:
    """Append a version unless the profile in force is already this one; audited as mapping_profile.save."""
    actor = _actor(con, user)
    require(actor, "edit_mappings", "save a column mapping")
    assert actor is not None
    check_tag_keys(profile)
    body = _body(profile)
    text = json.dumps(body, sort_keys=True)
    note = comment.strip()[:500]
    with transaction(con):
        last = con.execute("SELECT version, body, deleted FROM mapping_profile_version WHERE name = ? "
                           "ORDER BY version DESC LIMIT 1", [profile.name]).fetchall()
        # compared as profiles: a body saved before a field existed reads with that field's default
        if last and not last[0][2] and _body(MappingProfile.model_validate(json.loads(last[0][1]))) == body:
            return SaveResult(int(last[0][0]), False)
        version = int(last[0][0]) + 1 if last else 1
        con.execute("INSERT INTO mapping_profile_version (name, version, target_table, body, saved_by, comment) "
                    "VALUES (?, ?, ?, ?, ?, ?)", [profile.name, version, profile.target_table, text,
                                                  actor.username, note])
        exists = con.execute("SELECT 1 FROM mapping_profile WHERE name = ?", [profile.name]).fetchall()
        if exists:
            con.execute("UPDATE mapping_profile SET target_table = ?, body = ?, updated_at = current_timestamp "
                        "WHERE name = ?", [profile.target_table, text, profile.name])
        else:
            con.execute("INSERT INTO mapping_profile (name, target_table, body, created_by) VALUES (?, ?, ?, ?)",
                        [profile.name, profile.target_table, text, actor.username])
        audit.record(con, actor.username, "mapping_profile.save", "mapping_profile", profile.name,
                     {"version": version, "target_table": profile.target_table, "comment": note,
                      "previous_version": int(last[0][0]) if last else None})
    return SaveResult(version, True)


def load_profile(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> MappingProfile:
    """The profile in force, or one earlier version of it (also of a deleted profile)."""
    if version is None:
        rows = con.sql("SELECT body FROM mapping_profile WHERE name = ?", params=[name]).fetchall()
    else:
        rows = con.sql("SELECT body FROM mapping_profile_version WHERE name = ? AND version = ? AND NOT deleted",
                       params=[name, version]).fetchall()
    if not rows:
        if version is not None and profile_versions(con, name):
            known = ", ".join(str(v.version) for v in profile_versions(con, name) if not v.deleted)
            raise NotFound(f"mapping profile '{name}' has no version {version} (versions: {known})")
        known = ", ".join(list_profiles(con)) or "none saved yet"
        raise NotFound(f"no mapping profile named '{name}' (known: {known})")
    return MappingProfile.model_validate(json.loads(rows[0][0]))


def list_profiles(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT name FROM mapping_profile ORDER BY name").fetchall()]


def profile_versions(con: duckdb.DuckDBPyConnection, name: str) -> list[ProfileVersion]:
    """Every version of one profile, oldest first (a tombstone marks a delete)."""
    rows = con.execute("SELECT name, version, target_table, saved_by, saved_at, comment, deleted "
                       "FROM mapping_profile_version WHERE name = ? ORDER BY version", [name]).fetchall()
    return [ProfileVersion(*r) for r in rows]


def profiles_in_force(con: duckdb.DuckDBPyConnection) -> list[ProfileVersion]:
    """The newest version of each profile that is not deleted, by name."""
    rows = con.execute(
        "SELECT name, version, target_table, saved_by, saved_at, comment, deleted FROM mapping_profile_version "
        "QUALIFY row_number() OVER (PARTITION BY name ORDER BY version DESC) = 1 ORDER BY name").fetchall()
    return [ProfileVersion(*r) for r in rows if not r[6]]


def delete_profile(con: duckdb.DuckDBPyConnection, name: str, *, user: User | str | None = None,
                   comment: str = "") -> bool:
    """Take a profile out of force (its versions stay readable); audited as mapping_profile.delete."""
    actor = _actor(con, user)
    require(actor, "edit_mappings", "delete a column mapping")
    assert actor is not None
    with transaction(con):
        last = con.execute("SELECT version, target_table, body FROM mapping_profile_version WHERE name = ? "
                           "AND NOT deleted AND version = (SELECT max(version) FROM mapping_profile_version "
                           "WHERE name = ?)", [name, name]).fetchall()
        n = con.sql("SELECT count(*) FROM mapping_profile WHERE name = ?", params=[name]).fetchall()[0][0]
        if not n and not last:
            return False
        con.execute("DELETE FROM mapping_profile WHERE name = ?", [name])
        version = None
        if last:
            version = int(last[0][0]) + 1
            con.execute("INSERT INTO mapping_profile_version (name, version, target_table, body, saved_by, comment, "
                        "deleted) VALUES (?, ?, ?, ?, ?, ?, true)",
                        [name, version, last[0][1], last[0][2], actor.username, comment.strip()[:500]])
        audit.record(con, actor.username, "mapping_profile.delete", "mapping_profile", name,
                     {"version": version, "comment": comment.strip()[:500]})
    return True


def ingest_options(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> dict[str, Any]:
    """What the CLI/page pass to `ingest_file(..., kind="generic", options=...)` for `--mapping NAME`."""
    return {"mapping": load_profile(con, name, version).model_dump(mode="json")}
