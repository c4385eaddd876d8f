"""The audit-trail page says when the last backup was taken (issue #19), and that none was when none was."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import store
from engine.store import audit
from engine.store import backup as backups
from tests.app.conftest import page_as


@pytest.fixture
def backup_db(demo_db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "backup_page.duckdb"
    shutil.copy(demo_db_path, path)
    shutil.copy(audit.head_path(demo_db_path), audit.head_path(path))
    monkeypatch.setenv("APPORTION_DB_PATH", str(path))
    yield path


def _captions(key: str, user: str) -> list[str]:
    at = page_as(key, user).run()
    assert not at.exception
    return [c.value for c in at.caption]


def test_the_audit_trail_shows_the_last_backup(backup_db: Path, tmp_path: Path) -> None:
    assert "No backup recorded yet (python -m engine backup PATH)." in _captions("audit_trail", "audrey")
    con = store.connect(backup_db)
    info = backups.backup(con, tmp_path / "bk", user="admin")
    con.close()
    at = info.taken_at[:16].replace("T", " ")
    shown = [c for c in _captions("audit_trail", "audrey") if c.startswith("Last backup")]
    assert len(shown) == 1 and shown[0].startswith(f"Last backup: {at[:15]}") and "UTC by admin" in shown[0]
