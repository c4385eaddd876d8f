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
# Real exports from other projects live beside the repository (../shared/samples), never in it. A bare clone has no
# such folder: every test that reads one is skipped with this reason; CI, which has the folder, runs them all.
SAMPLES_PRESENT = SAMPLES.is_dir()
SAMPLES_MISSING = f"needs the real sample exports in {SAMPLES} (kept beside the repository, not in it)"
needs_samples = pytest.mark.skipif(not SAMPLES_PRESENT, reason=SAMPLES_MISSING)


def sample_text(name: str) -> str:
    """A sample's text, or "" in a bare clone (module-level reads must not fail at collection)."""
    path = SAMPLES / name
    return path.read_text() if path.is_file() else ""


def _reads_samples(func: object, seen: set[int] | None = None) -> bool:
    """Does this test or fixture function name SAMPLES, or a module-level value that leads to it: a Path inside it,
    a string holding its path (SQL that reads a sample), a helper function or a table of cases (dict, list, tuple)
    whose functions or values do?"""
    seen = set() if seen is None else seen
    code = getattr(func, "__code__", None)
    if code is None or id(code) in seen:
        return False
    seen.add(id(code))
    module_globals = getattr(func, "__globals__", {})
    names: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names |= set(c.co_names)
        stack += [k for k in c.co_consts if hasattr(k, "co_names")]
    return "SAMPLES" in names or any(_leads_to_samples(module_globals.get(n), module_globals, seen) for n in names)


def _leads_to_samples(value: object, module_globals: dict[str, object], seen: set[int], depth: int = 0) -> bool:
    if isinstance(value, Path):
        return SAMPLES in (value, *value.parents)
    if isinstance(value, str):
        return str(SAMPLES) in value
    if depth < 3 and isinstance(value, dict):
        return any(_leads_to_samples(v, module_globals, seen, depth + 1) for v in value.values())
    if depth < 3 and isinstance(value, (list, tuple)):
        return any(_leads_to_samples(v, module_globals, seen, depth + 1) for v in value)
    if callable(value) and (getattr(value, "__globals__", None) is module_globals
                            or str(getattr(value, "__module__", "")).startswith("tests.")):
        return _reads_samples(value, seen)   # a helper of this module, or one imported from another test module
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SAMPLES_PRESENT:
        return
    for item in items:
        funcs = [getattr(item, "function", None)]
        info = getattr(item, "_fixtureinfo", None)
        if info is not None:
            funcs += [d.func for defs in info.name2fixturedefs.values() for d in defs]
        if any(_reads_samples(f) for f in funcs):
            item.add_marker(needs_samples)

# Tests never depend on a developer's cookie key file or secrets.
os.environ.setdefault("APPORTION_COOKIE_KEY", secrets.token_urlsafe(48))
os.environ.setdefault("APPORTION_AUDIT_KEY", secrets.token_urlsafe(48))

DEMO_TEST_LINES = 40_000
DEMO_CLOSED_MONTHS = 3  # the last three demo months have posted runs, as after a few month-ends


def add_users(con: duckdb.DuckDBPyConnection, role: str, *usernames: str) -> None:
    """Users the engine's maker-checker can resolve (approvers must be known users with an approving role)."""
    for name in usernames:
        con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES (?, ?, ?, 'x')",
                    [name, name.title(), role])


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
