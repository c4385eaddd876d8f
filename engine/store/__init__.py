"""The DuckDB store: connection, numbered migrations, explicit transactions.

One read-write connection per process (a DuckDB file held read-write blocks every other process);
callers take a `cursor()` per session or thread.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from engine.errors import ApportionError, InputError
from engine.settings import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration file, in order; numbers must be unique."""
    found: list[tuple[int, str, str]] = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise InputError(f"migration file {path.name} must be named NNNN_name.sql")
        found.append((int(m.group(1)), m.group(2), path.read_text()))
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise InputError(f"duplicate migration numbers in {MIGRATIONS_DIR}: {versions}")
    return found


def _split_statements(sql: str) -> list[str]:
    # Migration files keep string literals free of "--" and ";" so comments can be stripped per line.
    lines = [ln.split("--", 1)[0] for ln in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply pending migrations, each in its own transaction; returns the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    done = {r[0] for r in con.execute("SELECT version FROM schema_migration").fetchall()}
    applied: list[int] = []
    for version, name, sql in migrations():
        if version in done:
            continue
        with transaction(con):
            for stmt in _split_statements(sql):
                con.execute(stmt)
            con.execute("INSERT INTO schema_migration (version, name) VALUES (?, ?)", [version, name])
        applied.append(version)
    return applied


def connect(path: str | Path, *, read_only: bool = False, migrate_schema: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the store file (creating its folder) and bring the schema up to date."""
    p = Path(path)
    if str(p) != ":memory:":
        p.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(p), read_only=read_only, config=_config())
    if migrate_schema and not read_only:
        migrate(con)
    return con


def _config() -> dict[str, str | bool | int | float | list[str]]:
    """DuckDB options from the settings (memory limit, spill folder); empty when none is set."""
    s = get_settings()
    cfg: dict[str, str | bool | int | float | list[str]] = {}
    if s.duckdb_memory_limit_mb:
        cfg["memory_limit"] = f"{int(s.duckdb_memory_limit_mb)}MiB"
    if s.duckdb_temp_dir:
        cfg["temp_directory"] = str(s.duckdb_temp_dir)
    return cfg


# Write transactions of one process take turns. DuckDB's concurrency is optimistic: of two overlapping writers
# that touch the same rows (every audited change appends to the one audit chain), the later fails — a login, a
# statement view or an approval refused with "try again" because someone else clicked at the same moment (the
# room of issue 19 found it). Waiting a moment is what a user expects. Readers never take the lock; a `python -m
# engine` job beside the app runs in the app's process (engine/jobs/), so it takes its turn too.
_WRITES = threading.RLock()
WRITE_WAIT_S = 600.0


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any error; a multi-statement string is not a transaction in DuckDB. Waits
    for this process's other write transactions (`_WRITES`), at most WRITE_WAIT_S seconds."""
    if not _WRITES.acquire(timeout=WRITE_WAIT_S):
        raise ApportionError(f"Another change has been writing to the store for {WRITE_WAIT_S:.0f} seconds, so this "
                             "one was not started: try again when it has finished.")
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        _WRITES.release()


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count per base table; used by the empty-state checks and tests."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
        ).fetchall()
    ]
    return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in sorted(names)}


def table_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """(row count, order-independent content hash) per table: proves a failed write left nothing behind."""
    out: dict[str, tuple[int, int]] = {}
    for name in table_counts(con):
        row = con.execute(f'SELECT count(*), coalesce(sum(hash(t)), 0) FROM "{name}" t').fetchall()[0]
        out[name] = (int(row[0]), int(row[1]))
    return out
