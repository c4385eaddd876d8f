"""One DuckDB connection per process (cache_resource), one cursor per script-run thread.

A cursor per session is not enough: when a user moves a widget while a run is still querying, Streamlit starts the
new run on a new thread before the old one has let go, and a DuckDB cursor refuses a second concurrent call.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import streamlit as st

from engine import store
from engine.jobs import runner
from engine.settings import get_settings


@st.cache_resource(show_spinner=False)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    """The process's connection; its job runner starts with it, so a `python -m engine …` started while the app
    holds the file runs here (engine/jobs/, docs/architecture.md "Jobs while the app runs")."""
    con = store.connect(path)
    if get_settings().jobs_in_app:
        runner.start(con, Path(path))
    return con


_local = threading.local()


def db() -> duckdb.DuckDBPyConnection:
    """This thread's cursor on the process-wide connection; it is closed when the run's thread ends."""
    path = str(get_settings().db_path)
    cursors: dict[str, duckdb.DuckDBPyConnection] = getattr(_local, "cursors", None) or {}
    _local.cursors = cursors
    if path not in cursors:
        cursors[path] = _connection(path).cursor()
    return cursors[path]


def data_version() -> str:
    """Changes whenever data lands or a run posts: part of every st.cache_data key so caches never go stale."""
    row = db().execute(
        "SELECT (SELECT count(*) || ':' || coalesce(max(loaded_at)::VARCHAR, '') FROM ingest_batch) || '|' ||"
        " (SELECT count(*) || ':' || coalesce(max(started_at)::VARCHAR, '') FROM allocation_run) || '|' ||"
        " (SELECT count(*) FROM scope_version) || '|' ||"  # a scope change rewrites the rules the workshop evaluates
        # lines written by anything but an ingest (an admin's SQL, a restore) change the count; DuckDB answers a
        # bare count(*) from the table's metadata (under 1 ms on 10M lines)
        " (SELECT count(*) FROM cost_line)"
    ).fetchall()
    return str(row[0][0])
