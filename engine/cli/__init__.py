"""CLI commands, one module each (see engine/__main__.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

from engine import store
from engine.settings import get_settings


def resolve_db(db: str | None) -> Path:
    """`--db` wins; otherwise APPORTION_DB_PATH / secrets / default, as the app resolves it."""
    return Path(db) if db else get_settings().db_path


def open_store(db_arg: str | None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection | None:
    """The store a command works on, or None after saying on stderr why it cannot be opened (the caller exits 2):
    no store at the path, or another process holding it."""
    db = resolve_db(db_arg)
    if not db.exists():
        print(f"there is no store at {db}", file=sys.stderr)
        return None
    try:
        return store.connect(db, read_only=read_only)
    except duckdb.Error as exc:
        print(f"cannot open {db} (is the app or a job holding it?): {exc}", file=sys.stderr)
        return None
