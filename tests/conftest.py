"""Shared fixtures: a fresh migrated store per test, and one small demo organisation per session."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from engine import store

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"

# Tests never depend on a developer's cookie key file or secrets.
os.environ.setdefault("APPORTION_COOKIE_KEY", secrets.token_urlsafe(48))

DEMO_TEST_LINES = 40_000
DEMO_CLOSED_MONTHS = 3  # the last three demo months have posted runs, as after a few month-ends


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated, empty store in a real DuckDB file."""
    c = store.connect(tmp_path / "test.duckdb")
    yield c
    c.close()


@pytest.fixture(scope="session")
def demo_db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding the demo organisation at test size, its rule set approved and the last months
    closed; open it read-only or copy it."""
    from data.demo_close import close_months
    from data.generate import generate

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    c = store.connect(path)
    generate(c, lines=DEMO_TEST_LINES)
    close_months(c, DEMO_CLOSED_MONTHS)
    c.close()
    return path


@pytest.fixture
def demo_con(demo_db_path: Path, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A private read-write copy of the demo store for one test."""
    copy = tmp_path / "demo_copy.duckdb"
    copy.write_bytes(demo_db_path.read_bytes())
    c = store.connect(copy)
    yield c
    c.close()
