"""Pickers several pages share; each stops the page with the empty state when there is nothing to pick."""

from __future__ import annotations

import duckdb
import streamlit as st

from engine.insights import overview
from engine.rules import versions
from ui.empty import empty_state


def periods_and_rule_sets(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """Billing periods newest first, and the names of rule sets with an approved version."""
    periods = overview.periods(con)
    approved = sorted({v.name for v in versions.list_versions(con) if v.status == "approved"})
    if not periods or not approved:
        empty_state("billing data or approved rule set")
        st.stop()
    return list(reversed(periods)), approved
