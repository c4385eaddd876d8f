"""Cached engine calls. Keys include the data version (ui.db.data_version) so new data or runs never show stale."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from engine.allocation import whatif
from engine.ingest.file_head import FileHead, head_of_upload
from engine.insights import workshop
from engine.insights.overview import PeriodHealth
from engine.settings import get_settings
from ui.db import db


@st.cache_resource(show_spinner="Pre-aggregating the month's pools…", max_entries=8)
def prepared(db_path: str, period: str, rule_set: str, data_version: str) -> whatif.Prepared:
    """The one heavy query of a workshop; every slider move afterwards reuses it."""
    return whatif.prepare(db(), period, rule_set)


@st.cache_resource(show_spinner=False, max_entries=32)
def baseline_charges(db_path: str, period: str, rule_set: str, data_version: str, by: str) -> pl.DataFrame:
    prep = prepared(db_path, period, rule_set, data_version)
    return workshop.charges(prep, workshop.baseline_params(prep), by)  # type: ignore[arg-type]


@st.cache_data(show_spinner=False, max_entries=16, ttl=3600)
def on_demand_uplift(db_path: str, period: str, data_version: str) -> pl.DataFrame:
    """Per cost centre, the on-demand price of its commitment-covered usage minus its effective cost (one query)."""
    from engine.insights import comparison

    return comparison.on_demand_uplift(db(), period)


def db_path() -> str:
    return str(get_settings().db_path)


@st.cache_data(show_spinner=False, max_entries=16, ttl=600)
def period_health(db_path: str, data_version: str) -> dict[str, PeriodHealth]:
    """Every billing period with its lines, cost and stray flag (overview.period_health), once per data version:
    the overview asked for it twice per rerun, each a scan of every line."""
    from engine.insights import overview

    return overview.period_health(db())


@st.cache_data(show_spinner=False, max_entries=64, ttl=3600)
def overview_figures(db_path: str, data_version: str, username: str, period: str, scenario_name: str) -> dict:
    """Every figure the overview shows, computed once per data version, user and period."""
    from engine.access import users
    from engine.insights import comparison, overview
    from engine.insights.overview_figures import figures

    con = db()
    user = users.get_user(con, username)
    if user is None:
        raise PermissionError("unknown user")
    presets = comparison.available(con)
    stray = {p for p, h in period_health(db_path, data_version).items() if h.stray}
    f = figures(con, user, period, stray=stray)   # one pass over the lines for all of them
    return {
        "kpis": f.kpis,
        "recovery": overview.recovery(con, period, presets[scenario_name]) if scenario_name in presets else None,
        "spend": f.spend, "movers_bu": f.movers_bu, "movers_service": f.movers_service, "untagged": f.untagged,
    }


@st.cache_data(show_spinner=False, max_entries=64, ttl=600)
def last_day_with_data(db_path: str, data_version: str, username: str, period: str) -> date | None:
    """The overview's default forecast day (forecast.series.last_day_with_data): an attributed scan of the month's
    lines, once per data version, user and period instead of on every rerun."""
    from engine.access import users
    from engine.insights.forecast import series

    return series.last_day_with_data(db(), users.get_user(db(), username), period)


@st.cache_data(show_spinner=False, max_entries=64, ttl=600)
def flag_summary(db_path: str, flags_version: str, username: str, limit: int = 5) -> dict:
    """The overview's anomaly panel: active incidents the user may see, keyed by `flags_version` so a poll that
    finds nothing new costs one cheap query and no recomputation."""
    from engine.access import users
    from engine.insights.anomalies import workflow

    con = db()
    user = users.get_user(con, username)
    s = workflow.summary(con, user, limit)
    return {"active": s.active, "at_risk": s.at_risk, "top": s.top, "over_budget": s.over_budget}


@st.cache_data(show_spinner=False, max_entries=8, ttl=600)
def upload_head(data: bytes, file_name: str) -> FileHead:
    """An upload's header and first rows for the mapping editor: read once per file content, not on every rerun
    the editor's widgets cause (each read writes the upload to a temp folder and opens it)."""
    return head_of_upload(data, file_name)
