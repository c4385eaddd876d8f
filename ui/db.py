"""One DuckDB connection per process (cache_resource), one cursor per browser session."""

from __future__ import annotations

import duckdb
import streamlit as st

from engine import store
from engine.settings import get_settings


@st.cache_resource(show_spinner=False)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    return store.connect(path)


def db() -> duckdb.DuckDBPyConnection:
    """This session's cursor on the process-wide connection (DuckDB connections are not shared across threads)."""
    path = str(get_settings().db_path)
    key = f"_db_cursor::{path}"
    cur = st.session_state.get(key)
    if cur is None:
        cur = _connection(path).cursor()
        st.session_state[key] = cur
    return cur


def data_version() -> str:
    """Changes whenever data lands or a run posts: part of every st.cache_data key so caches never go stale."""
    row = db().execute(
        "SELECT (SELECT count(*) || ':' || coalesce(max(loaded_at)::VARCHAR, '') FROM ingest_batch) || '|' ||"
        " (SELECT count(*) || ':' || coalesce(max(started_at)::VARCHAR, '') FROM allocation_run)"
    ).fetchall()
    return str(row[0][0])
