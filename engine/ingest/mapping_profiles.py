"""Named column mappings for generic CSV/XLSX/Parquet files, saved in the store (table mapping_profile, 0005).

A FinOps lead maps a procurement spreadsheet once in the UI; the monthly job then loads the next one headless with
`python -m engine ingest FILE --source generic --mapping NAME`. The profile is plain data (pydantic, JSON in the
table) so the parent process can read it from the store and hand it to the sandboxed child, which never opens the
store: `ingest_file(con, path, kind="generic", options={"mapping": profile.model_dump(mode="json")})`.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from engine.errors import NotFound
from engine.ingest.contract.mapping import MappingProfile
from engine.store import transaction


def save_profile(con: duckdb.DuckDBPyConnection, profile: MappingProfile, *, user: str | None = None) -> None:
    """Create or replace by name; `created_at` survives a replace so the history stays honest."""
    body = json.dumps(profile.model_dump(mode="json"), sort_keys=True)
    with transaction(con):
        exists = con.sql("SELECT 1 FROM mapping_profile WHERE name = ?", params=[profile.name]).fetchall()
        if exists:
            con.execute("UPDATE mapping_profile SET target_table = ?, body = ?, updated_at = current_timestamp "
                        "WHERE name = ?", [profile.target_table, body, profile.name])
        else:
            con.execute("INSERT INTO mapping_profile (name, target_table, body, created_by) VALUES (?, ?, ?, ?)",
                        [profile.name, profile.target_table, body, user])


def load_profile(con: duckdb.DuckDBPyConnection, name: str) -> MappingProfile:
    rows = con.sql("SELECT body FROM mapping_profile WHERE name = ?", params=[name]).fetchall()
    if not rows:
        known = ", ".join(list_profiles(con)) or "none saved yet"
        raise NotFound(f"no mapping profile named '{name}' (known: {known})")
    return MappingProfile.model_validate(json.loads(rows[0][0]))


def list_profiles(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT name FROM mapping_profile ORDER BY name").fetchall()]


def delete_profile(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    with transaction(con):
        n = con.sql("SELECT count(*) FROM mapping_profile WHERE name = ?", params=[name]).fetchall()[0][0]
        con.execute("DELETE FROM mapping_profile WHERE name = ?", [name])
    return bool(n)


def ingest_options(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any]:
    """What the CLI/page pass to `ingest_file(..., kind="generic", options=...)` for `--mapping NAME`."""
    return {"mapping": load_profile(con, name).model_dump(mode="json")}
