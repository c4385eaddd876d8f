"""Sources: every live source (polled API or watched drop folder) with its freshness, rows, next run and what its
polling costs against the freshness it buys; run one now, pause or resume it, add one (engine/sources/)."""

from __future__ import annotations

import streamlit as st

from engine.errors import ApportionError
from engine.settings import get_settings
from engine.sources import config, freshness, runner, scheduler
from ui.auth import require_role
from ui.db import db
from ui.formats import plain
from ui.navigation import roles_for

user = require_role(*roles_for("sources"))
con = db()
settings = get_settings()
if settings.sources_in_app:
    scheduler.start(con, str(settings.db_path), settings.sources_tick_seconds)

st.title("Sources")
st.caption("APIs polled and drop folders watched. Polled rows go through the same checks, quarantine and "
           "idempotency as an upload. Times are UTC; credentials are read from the environment, never stored.")

table = freshness.overview(con)
if table.is_empty():
    st.info("No source yet: add one below.")
else:
    c1, c2, c3 = st.columns(3)
    c1.metric("Sources", len(table))
    c2.metric("Fresh", len(table.filter(table["freshness"] == "fresh")))
    c3.metric("Rows loaded", f"{int(table['rows_total'].sum()):,}")
    st.dataframe(table.select("source", "kind", "paused", "freshness", "age_minutes", "target_minutes",
                              "last_success", "rows_last_run", "rows_total", "next_run", "every_minutes",
                              "calls_per_day", "rows_per_call", "recommended_minutes"),
                 hide_index=True, width="stretch", key="sources_table")
    st.subheader("Polling cost against freshness")
    for r in table.to_dicts():
        st.text(f"{r['source']}: {r['recommendation']}")
    for r in table.to_dicts():
        if r["last_error"]:
            st.error(plain(f"{r['source']}: last run failed — {r['last_error']}"))

    names = table["source"].to_list()
    st.subheader("Run or pause")
    if "sources_last" in st.session_state:
        ok, text = st.session_state.pop("sources_last")
        if ok:
            st.success(plain(text))
        else:
            st.error(plain(text))
    if "sources_pick_next" in st.session_state:    # a source just added is the one shown
        st.session_state["sources_pick"] = st.session_state.pop("sources_pick_next")
    chosen = st.selectbox("Source", names, key="sources_pick")
    src = config.get_source(con, chosen)
    b1, b2 = st.columns(2)
    if b1.button("Run now", key="sources_run", type="primary", icon=":material/play_arrow:"):
        with st.spinner(plain(f"Running {chosen}")):
            try:
                res = runner.run_source(con, chosen, user)
            except ApportionError as exc:
                st.error(plain(str(exc)))
            else:
                text = (f"{res.status.replace('_', ' ')}: {res.rows_loaded} rows loaded, {res.calls} calls "
                        f"({res.retries} retries), {res.seconds:.1f} s — {res.message}")
                st.session_state["sources_last"] = (res.ok, text)
                st.rerun()                         # the table above shows the run's freshness and rows
    if b2.button("Resume" if src.paused else "Pause", key="sources_pause",
                 icon=":material/pause:" if not src.paused else ":material/replay:"):
        try:
            config.set_paused(con, user, chosen, not src.paused)
            st.rerun()
        except ApportionError as exc:
            st.error(plain(str(exc)))
    st.markdown("**Recent runs**")
    st.dataframe(freshness.runs(con, chosen, 20), hide_index=True, width="stretch", key="sources_runs")

with st.expander("Add a source", expanded=table.is_empty()):
    with st.form("sources_add"):
        a1, a2 = st.columns(2)
        name = a1.text_input("Name", key="sources_new_name", placeholder="snipeit-hq")
        kind = a2.selectbox("Kind", list(config.KINDS), key="sources_new_kind",
                            help="snipeit, jamf (Classic API), servicenow (Table API), opencost (/allocation), or "
                                 "folder: a drop folder for exported files (FOCUS, CUR, …)")
        endpoint = st.text_input("Endpoint or folder", key="sources_new_endpoint",
                                 placeholder="https://assets.example.com or /srv/drops/focus")
        secret = st.text_input("Credential variable", key="sources_new_secret", placeholder="SNIPEIT_TOKEN",
                               help="The NAME of the environment variable (or secrets.toml key) holding the token.")
        n1, n2, n3 = st.columns(3)
        every = n1.number_input("Every (minutes)", 1, 7 * 1440, 60, key="sources_new_every")
        target = n2.number_input("Freshness target (minutes)", 1, 31 * 1440, 1440, key="sources_new_target")
        page_size = n3.number_input("Page size", 1, 10_000, 100, key="sources_new_page")
        pattern = st.text_input("Folder pattern", "*.csv", key="sources_new_pattern")
        if st.form_submit_button("Add source", type="primary"):
            options: dict[str, object] = ({"pattern": pattern} if kind == "folder"
                                          else {"page_size": int(page_size)})
            try:
                config.add_source(con, user, {"name": name, "kind": kind, "endpoint": endpoint.strip(),
                                              "secret_env": secret or None, "interval_minutes": int(every),
                                              "freshness_target_minutes": int(target), "options": options})
                st.session_state["sources_pick_next"] = name.strip()
                st.rerun()
            except ApportionError as exc:
                st.error(plain(str(exc)))
