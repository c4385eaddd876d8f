"""Ingest: upload exports and inventories, see what was recognised, loaded and refused (and why), download the
quarantine, and roll a batch back. Parsing runs in a sandboxed child process (engine/ingest/pipeline.py)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from engine.ingest import registry
from engine.ingest.mapping_profiles import ingest_options, list_profiles
from engine.ingest.pipeline import (
    IngestResult,
    ingest_bytes,
    list_batches,
    quarantine_rows,
    rollback_batch,
    safe_file_name,
)
from engine.ingest.redelivery import drop_warnings, pending_frame
from engine.settings import get_settings
from ui.auth import require_role
from ui.db import db
from ui.downloads import download_row
from ui.formats import plain
from ui.mapping_editor import render_mapping_editor
from ui.navigation import roles_for

user = require_role(*roles_for("ingest"))

con = db()
st.title("Ingest")
st.caption("Drop in FOCUS, AWS CUR, Azure, GCP billing exports or inventories. Loading the same file twice changes "
           "nothing; a re-delivered billing month replaces the earlier one once you confirm it.")
AUTO = "Detect automatically"
ENCODINGS = ["utf-8", "latin-1", "utf-16"]
max_mb = get_settings().upload_max_mb


def show_result(res: IngestResult, key: str) -> None:
    text = plain("\n\n".join(res.messages))   # file names and file content: shown as text
    if res.status == "loaded":
        st.success(text)  # plain-text: built with plain() above
    elif res.status in ("duplicate", "staged"):
        st.info(text)  # plain-text: built with plain() above
    elif res.status == "needs_confirmation":
        st.warning(text)  # plain-text: built with plain() above
    else:
        st.error(text)  # plain-text: built with plain() above
    loud = drop_warnings(res.pending)
    for w in res.warnings:
        if w in loud:
            st.error(plain(w), icon=":material/trending_down:")
        else:
            st.warning(plain(w))
    if res.pending:
        st.markdown("**Replaces**" if res.status == "loaded" else "**This file replaces**")
        st.dataframe(pending_frame(res.pending), hide_index=True, width="stretch")
    if res.status in ("loaded", "staged"):
        c1, c2, c3 = st.columns(3)
        c1.metric("Rows read", f"{res.rows_read:,}")
        c2.metric("Loaded" if res.status == "loaded" else "Would load", f"{res.rows_loaded:,}")
        c3.metric("Quarantined", f"{res.rows_quarantined:,}")
        st.caption(f"Recognised as **{plain(res.kind)}** → {plain(res.target_table)}"
                   + (f", batch {plain(res.batch_id)}" if res.batch_id else ""))
    if res.preview is not None and not res.preview.is_empty():
        st.markdown("**Preview** (first rows as they will be stored)")
        st.dataframe(res.preview, hide_index=True, width="stretch")
    quarantine = (quarantine_rows(con, res.batch_id) if res.status == "loaded" and res.batch_id
                  else res.quarantine_preview)
    if quarantine is not None and not quarantine.is_empty():
        st.markdown("**Validation report**: rows kept out, with the reason")
        st.dataframe(quarantine, hide_index=True, width="stretch")
        download_row(quarantine, f"quarantine_{res.file}", f"{key}_q")


upload_tab, history_tab = st.tabs(["Upload", "Batch history"])

with upload_tab:
    files = st.file_uploader("Files", accept_multiple_files=True, key="ingest_files",
                             help=f"Up to {max_mb:d} MB per file: CSV, Parquet, JSON lines, XLSX.")
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Source", [AUTO, *registry.kinds()], key="ingest_kind",
                        help="Leave on automatic unless the format is not recognised.")
    profiles = list_profiles(con)
    mapping = c2.selectbox("Column mapping", ["None", *profiles], key="ingest_mapping",
                           help="A saved mapping for generic CSV/XLSX/Parquet files.")
    encoding = c3.selectbox("Encoding", ENCODINGS, key="ingest_encoding",
                            help="UTF-8 unless the file was saved otherwise (e.g. latin-1 from older Excel).")
    b1, b2 = st.columns(2)
    check = b1.button("Check only", key="ingest_check", disabled=not files, icon=":material/fact_check:")
    load = b2.button("Load", key="ingest_load", type="primary", disabled=not files, icon=":material/upload:")
    if (check or load) and files:
        options: dict[str, object] = {} if encoding == "utf-8" else {"encoding": encoding}
        chosen = None if kind == AUTO else kind
        if mapping != "None":
            options.update(ingest_options(con, mapping))
            chosen = chosen or "generic"
        results: list[IngestResult] = []
        asks: dict[int, dict[str, object]] = {}   # result index → what re-runs it with replace=True
        for f in files:
            data = f.getvalue()
            name = safe_file_name(f.name)   # any length the browser sends; the name the batch will carry
            with st.status(plain(f"{'Checking' if check else 'Loading'} {name}"), expanded=True) as status:
                if len(data) > max_mb * 1024 * 1024:
                    res = IngestResult(file=name, status="refused",
                                       messages=[f"{name}: at most {max_mb} MB (this one has "
                                                 f"{len(data) / 1024**2:.0f} MB)"])
                else:
                    bar = st.progress(0.0, text="Starting")
                    res = ingest_bytes(con, data, name, kind=chosen, options=options, user=user.username,
                                       dry_run=bool(check), progress=lambda p, m, bar=bar: bar.progress(p, text=m))
                said = ("not loaded yet: it replaces loaded months, confirm below"
                        if res.status == "needs_confirmation" else res.status)
                status.update(label=plain(f"{name}: {said}"), expanded=False,
                              state="error" if res.status == "refused" else "complete")
            if res.status == "needs_confirmation":   # the bytes stay for the confirming rerun
                asks[len(results)] = {"data": data, "name": name, "kind": chosen, "options": dict(options)}
            results.append(res)
        st.session_state["ingest_results"] = results
        st.session_state["ingest_asks"] = asks
    asks_kept: dict[int, dict[str, object]] = st.session_state.get("ingest_asks", {})
    for i, res in enumerate(st.session_state.get("ingest_results", [])):
        with st.container(border=True):
            st.markdown(f"**{plain(res.file)}**")
            show_result(res, f"ingest_res_{i}")
            ask = asks_kept.get(i)
            if res.status == "needs_confirmation" and ask is not None:
                r1, r2 = st.columns(2)
                if r1.button("Replace", key=f"ingest_replace_{i}", type="primary", icon=":material/swap_horiz:"):
                    with st.status(plain(f"Replacing with {ask['name']}"), expanded=True):
                        bar = st.progress(0.0, text="Starting")
                        st.session_state["ingest_results"][i] = ingest_bytes(
                            con, ask["data"], str(ask["name"]), kind=ask["kind"], options=ask["options"],
                            user=user.username, replace=True,
                            progress=lambda p, m, bar=bar: bar.progress(p, text=m))
                    del asks_kept[i]
                    st.rerun()
                if r2.button("Keep the loaded data", key=f"ingest_keep_{i}", icon=":material/block:"):
                    del asks_kept[i]
                    st.session_state["ingest_results"][i] = IngestResult(
                        file=res.file, status="needs_confirmation", kind=res.kind, target_table=res.target_table,
                        messages=[f"{res.file}: not loaded; the loaded data is kept as it was"])
                    st.rerun()
    with st.expander("Column mapping editor", icon=":material/edit_note:"):
        render_mapping_editor(con, user, files or [])

with history_tab:
    batches = list_batches(con)
    if batches.is_empty():
        st.info("Nothing loaded yet.")
    else:
        st.dataframe(batches.drop("content_hash"), hide_index=True, width="stretch")
        pick = st.selectbox("Batch", batches["batch_id"].to_list(), key="ingest_batch_pick",
                            format_func=lambda b: f"{b} — {batches.filter(pl.col('batch_id') == b)['file_name'][0]}")
        q = quarantine_rows(con, pick)
        st.markdown(f"**Quarantine of {plain(pick)}**: {q.height:,} rows")
        if not q.is_empty():
            st.dataframe(q, hide_index=True, width="stretch")
            download_row(q, f"quarantine_{pick}", "ingest_hist_q")
        status = batches.filter(pl.col("batch_id") == pick)["status"][0]
        if status == "loaded":
            with st.form("ingest_rollback"):
                reason = st.text_input("Reason for rolling back", key="ingest_rollback_reason")
                sure = st.checkbox("Delete this batch's rows from the store", key="ingest_rollback_sure",
                                   help="Billing months this batch replaced come back, unless a later batch "
                                        "covers them now.")
                if st.form_submit_button("Roll back batch", type="secondary"):
                    if not sure or not reason.strip():
                        st.error("Give a reason and tick the box to roll back.")
                    else:
                        st.success(plain(rollback_batch(con, pick, user.username, reason.strip())))
        else:
            st.caption(plain(f"This batch is {status}; only a loaded batch can be rolled back."))
