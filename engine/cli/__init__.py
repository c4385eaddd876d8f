"""CLI commands, one module each (see engine/__main__.py)."""

from __future__ import annotations

from pathlib import Path

from engine.settings import get_settings


def resolve_db(db: str | None) -> Path:
    """`--db` wins; otherwise APPORTION_DB_PATH / secrets / default, as the app resolves it."""
    return Path(db) if db else get_settings().db_path
