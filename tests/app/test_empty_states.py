"""A store with users but no data: every page explains what to do next instead of failing or showing zeros."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as
from ui.navigation import PAGES


@pytest.fixture
def empty_env(demo_db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "empty.duckdb"
    con = store.connect(path)
    con.execute(f"ATTACH '{demo_db_path}' AS demo (READ_ONLY)")
    con.execute("INSERT INTO app_user SELECT * FROM demo.app_user")
    con.execute("INSERT INTO user_scope SELECT * FROM demo.user_scope")
    con.execute("INSERT INTO org_unit SELECT * FROM demo.org_unit")
    con.execute("DETACH demo")
    con.close()
    monkeypatch.setenv("APPORTION_DB_PATH", str(path))
    return path


@pytest.mark.parametrize("spec", [p for p in PAGES if p.path.exists()], ids=lambda p: p.key)
def test_page_has_an_empty_state(empty_env: Path, spec) -> None:  # noqa: ANN001
    username = {"admin": "admin", "finops": "fiona", "executive": "eve", "app_owner": "omar",
                "auditor": "audrey"}[spec.roles[0]]
    at = page_as(spec.key, username).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    texts = " ".join(i.value for i in at.info) + " ".join(c.value for c in at.caption)
    assert at.info or at.success, f"{spec.key}: no empty-state message"
    assert not any(m.value not in ("–", "0", "0.0%") and m.value.startswith("$") and m.value != "$0.00"
                   for m in at.metric), texts
