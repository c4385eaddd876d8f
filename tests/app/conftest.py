"""AppTest runs the real scripts in-process against a real DuckDB file holding the demo organisation."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


@pytest.fixture(scope="module")
def app_db(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("apptest") / "app.duckdb"
    shutil.copy(demo_db_path, path)
    return path


@pytest.fixture
def app_env(app_db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("APPORTION_DB_PATH", str(app_db))
    yield app_db


def signed_in(at: AppTest, username: str) -> AppTest:
    """Give the AppTest's session a real, live server-side session of `username` (as a successful login would):
    the app refuses any signed-in state without one."""
    from engine import store
    from engine.access import sessions
    from engine.store import audit
    from ui.auth import SESSION_KEY

    con = store.connect(os.environ["APPORTION_DB_PATH"])
    try:
        at.session_state[SESSION_KEY] = sessions.open_session(con, username).session_id
        audit.verify(con)  # settles the audit head on the committed login event before this connection closes
    finally:
        con.close()
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = username
    return at


def logged_in(username: str) -> AppTest:
    """The entry app with a session already authenticated as `username` (the login form itself is tested apart)."""
    return signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT), username)


def page_as(key: str, username: str | None) -> AppTest:
    """A page script run directly, as if opened by URL, optionally with an authenticated session."""
    at = AppTest.from_file(str(ROOT / "pages" / f"{key}.py"), default_timeout=TIMEOUT)
    return signed_in(at, username) if username else at


LoggedIn = Callable[[str], AppTest]
