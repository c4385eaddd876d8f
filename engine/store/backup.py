"""Backup and restore of the whole store (docs/reliability.md "Backup and restore").

`backup` writes DuckDB's `EXPORT DATABASE` (schema.sql, load.sql, one Parquet file per table: exact DECIMALs, MAPs
and timestamps) into a new folder, with `apportion-backup.json` holding the schema version and every table's
(row count, content hash) from `store.table_checksums`, and a copy of the audit head file. The backup itself is
then audited (`store_backup`), so the event is in the live store, not in the backup it describes.

`restore` imports the folder into a new file beside the store, refuses it unless every table's checksum equals
the manifest's, then swaps it in: the store it replaces (file, WAL, audit head) is kept as
`<name>.before-restore-<UTC time>`, never deleted. The restored store is migrated forward if the backup is older,
and the restore is audited (`store_restore`).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from engine import store
from engine.errors import ConfigError, InputError, IntegrityError
from engine.store import audit
from engine.store.sql import lit

MANIFEST = "apportion-backup.json"
HEAD_COPY = "audit-head"
FORMAT = 1


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    taken_at: str
    schema_version: int
    tables: int
    rows: int


def _schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_migration").fetchall()[0][0])


def _db_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return Path(str(row[0][0])) if row and row[0][0] else None


def backup(con: duckdb.DuckDBPyConnection, dest: Path, user: str = "system") -> BackupInfo:
    """Export the store into `dest` (a new or empty folder) and audit it."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InputError(f"{dest} already exists and is not an empty folder: choose a new folder for the backup")
    dest.parent.mkdir(parents=True, exist_ok=True)
    taken = datetime.now(UTC).replace(microsecond=0)
    con.execute("CHECKPOINT")
    # one read transaction: the manifest's checksums are those of the exported state
    con.execute("BEGIN TRANSACTION")
    try:
        sums = store.table_checksums(con)
        version = _schema_version(con)
        con.execute(f"EXPORT DATABASE {lit(str(dest))} (FORMAT parquet)")
    finally:
        con.execute("COMMIT")
    db = _db_file(con)
    if db is not None and audit.head_path(db).is_file():
        shutil.copy2(audit.head_path(db), dest / HEAD_COPY)
    manifest = {"format": FORMAT, "taken_at": taken.isoformat(), "schema_version": version,
                "store": db.name if db else None,
                "tables": {t: {"rows": n, "hash": str(h)} for t, (n, h) in sorted(sums.items())}}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    rows = sum(n for n, _ in sums.values())
    with store.transaction(con):
        audit.record(con, user, "store_backup", "store", db.name if db else None,
                     {"path": str(dest), "taken_at": taken.isoformat(), "schema_version": version,
                      "tables": len(sums), "rows": rows})
    return BackupInfo(dest, taken.isoformat(), version, len(sums), rows)


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{src} is not an Apportion backup (no {MANIFEST})") from None
    except ValueError as exc:
        raise InputError(f"{path} is not readable JSON ({exc})") from None
    if data.get("format") != FORMAT or not isinstance(data.get("tables"), dict):
        raise InputError(f"{path}: expected backup format {FORMAT} with a table list")
    return data


def differences(expected: dict[str, Any], got: dict[str, tuple[int, int]]) -> list[str]:
    """Tables whose (rows, hash) differ between a manifest and a store, in words."""
    out: list[str] = []
    for t, e in sorted(expected.items()):
        if t not in got:
            out.append(f"{t}: missing after the import")
        elif (int(e["rows"]), str(e["hash"])) != (got[t][0], str(got[t][1])):
            out.append(f"{t}: {e['rows']} rows expected, {got[t][0]} imported"
                       + ("" if int(e["rows"]) != got[t][0] else " (same count, different content)"))
    out += [f"{t}: not in the backup" for t in sorted(set(got) - set(expected))]
    return out


def import_verified(src: Path, target: Path) -> dict[str, tuple[int, int]]:
    """IMPORT DATABASE `src` into the new file `target` and check every table against the manifest; on any
    difference `target` is deleted and the restore refused, naming the tables."""
    manifest = read_manifest(src)
    if target.exists():
        raise InputError(f"{target} already exists")
    con = duckdb.connect(str(target))
    try:
        con.execute(f"IMPORT DATABASE {lit(str(src))}")
        got = store.table_checksums(con)
    except duckdb.Error as exc:
        con.close()
        _remove_store_files(target)
        raise InputError(f"{src}: the backup could not be imported ({str(exc).splitlines()[0][:300]})") from None
    con.close()
    diff = differences(manifest["tables"], got)
    if diff:
        _remove_store_files(target)
        raise IntegrityError(f"{src}: the imported tables do not match the backup's checksums, nothing was restored: "
                             + "; ".join(diff[:10]))
    return got


def _remove_store_files(db: Path) -> None:
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)


def restore(src: Path, db: Path, user: str = "system") -> tuple[BackupInfo, Path | None]:
    """Replace the store at `db` with the backup in `src` (verified first). Returns what was restored and where the
    replaced store was kept (None when there was none). Refused while another process holds the store."""
    manifest = read_manifest(src)
    if db.exists():
        try:
            duckdb.connect(str(db)).close()   # the app or a job holding the store: no swap under its feet
        except duckdb.Error as exc:
            raise ConfigError(f"{db} is in use by another process (stop the app and jobs before a restore): "
                              f"{str(exc).splitlines()[0][:200]}") from None
    db.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    incoming = db.with_name(f"{db.name}.restoring-{stamp}")
    got = import_verified(src, incoming)
    kept: Path | None = None
    if db.exists():
        kept = db.with_name(f"{db.name}.before-restore-{stamp}")
        db.rename(kept)
        for extra in (db.with_name(db.name + ".wal"), audit.head_path(db)):
            if extra.exists():
                extra.rename(kept.with_name(kept.name + extra.name[len(db.name):]))
    incoming.rename(db)
    if (src / HEAD_COPY).is_file():
        shutil.copy2(src / HEAD_COPY, audit.head_path(db))
    con = store.connect(db)   # a backup from an older schema is migrated forward here
    try:
        with store.transaction(con):
            audit.record(con, user, "store_restore", "store", db.name,
                         {"from": str(src), "taken_at": manifest.get("taken_at"),
                          "schema_version": manifest.get("schema_version"), "tables": len(got),
                          "kept": str(kept) if kept else None})
    finally:
        con.close()
    rows = sum(n for n, _ in got.values())
    return BackupInfo(src, str(manifest.get("taken_at")), int(manifest.get("schema_version") or 0), len(got),
                      rows), kept


def last_backup(con: duckdb.DuckDBPyConnection) -> tuple[datetime, str, str] | None:
    """(when, by whom, where) of the latest backup recorded in the audit trail, or None."""
    rows = con.execute("SELECT event_at, actor, detail FROM audit_event WHERE action = 'store_backup' "
                       "ORDER BY seq DESC LIMIT 1").fetchall()
    if not rows:
        return None
    at, actor, detail = rows[0]
    try:
        where = str(json.loads(detail).get("path", ""))
    except (TypeError, ValueError):
        where = ""
    return at, str(actor), where


def last_backup_text(con: duckdb.DuckDBPyConnection) -> str:
    """One line for the app: when the last backup was taken, or that none is recorded."""
    last = last_backup(con)
    if last is None:
        return "No backup recorded yet (python -m engine backup PATH)."
    at, actor, _ = last
    return f"Last backup: {at:%Y-%m-%d %H:%M} UTC by {actor} (python -m engine backup PATH)."
