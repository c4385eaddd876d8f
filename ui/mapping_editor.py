"""The column mapping editor on the Ingest page: map an uploaded file's columns to a canonical table without code,
preview the first rows as they will land (the pipeline's own dry run), save the mapping as a named, versioned
profile and load the file with it. Everything non-trivial is the engine's (engine/ingest/mapping_form.py,
file_head.py, mapping_profiles.py); this module only lays out widgets and shows what the engine answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import duckdb
import streamlit as st

from engine.access.users import User
from engine.errors import ApportionError
from engine.ingest.contract.mapping import MAPPABLE, PERIOD_SOURCES, MappingProfile
from engine.ingest.mapping_form import (
    CONSTANT,
    NOT_MAPPED,
    Choice,
    cost_totals,
    draft_profile,
    form_columns,
    suggest_column,
    suggest_tag_key,
)
from engine.ingest.mapping_profiles import ingest_options, list_profiles, load_profile, save_profile
from engine.ingest.pipeline import IngestResult, ingest_bytes
from ui.cache import upload_head
from ui.formats import plain

FROM = "month of "    # billing_period options: "month of charge_period_start" / "…_end"
NEW = ""


class Upload(Protocol):
    name: str

    def getvalue(self) -> bytes: ...


def _option_label(option: str) -> str:
    return {NOT_MAPPED: "— not mapped —", CONSTANT: "= a constant"}.get(option, option)


def _start_from(con: duckdb.DuckDBPyConnection, columns: list[str]) -> None:
    """Fill the form from a saved profile (the widgets' session state), so it can be changed and saved again."""
    name = st.session_state.get("map_start", NEW)
    if name == NEW:
        return
    try:
        p = load_profile(con, name)
    except ApportionError as exc:
        st.session_state["map_start_error"] = str(exc)
        return
    table = p.target_table
    st.session_state["map_name"], st.session_state["map_table"] = p.name, table
    st.session_state["map_day_first"] = p.day_first
    st.session_state["map_formats"] = "; ".join(p.date_formats)
    for col, _ in form_columns(table):
        key = f"map_col_{table}_{col}"
        if col in p.columns and p.columns[col] in columns:
            st.session_state[key] = p.columns[col]
        elif col in p.constants:
            st.session_state[key] = CONSTANT
            st.session_state[f"map_const_{table}_{col}"] = str(p.constants[col])
        elif col == "billing_period" and p.billing_period_from:
            st.session_state[key] = FROM + p.billing_period_from
        else:
            st.session_state[key] = NOT_MAPPED
    tag_cols = [c for c in p.tags.values() if c in columns]
    st.session_state["map_tags"] = tag_cols
    for key, col in p.tags.items():
        if col in columns:
            st.session_state[f"map_tagkey_{col}"] = key


def _show_dry_run(res: IngestResult) -> None:
    if res.status == "refused":
        st.error(plain("\n\n".join(res.messages)))
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows read", f"{res.rows_read:,}")
    c2.metric("Would load", f"{res.rows_loaded:,}")
    c3.metric("Would quarantine", f"{res.rows_quarantined:,}")
    if res.preview is not None and not res.preview.is_empty():
        st.markdown("**Preview**: the first rows as they will be stored")
        st.dataframe(res.preview.head(20), hide_index=True, width="stretch")
    if res.quarantine_preview is not None and not res.quarantine_preview.is_empty():
        st.markdown("**Would be quarantined**, with the reason")
        st.dataframe(res.quarantine_preview, hide_index=True, width="stretch")


def _show_load(con: duckdb.DuckDBPyConnection, res: IngestResult) -> None:
    if res.status == "loaded":
        st.success(plain("\n\n".join(res.messages)))
    elif res.status == "duplicate":
        st.info(plain("\n\n".join(res.messages)))
    else:
        st.error(plain("\n\n".join(res.messages)))
        return
    c1, c2 = st.columns(2)
    c1.metric("Loaded rows", f"{res.rows_loaded:,}")
    c2.metric("Quarantined rows", f"{res.rows_quarantined:,}")
    if res.status == "loaded" and res.batch_id and res.target_table == "cost_line":
        for currency, (lines, billed, effective) in cost_totals(con, res.batch_id).items():
            st.metric(f"Billed cost loaded ({plain(currency)})", f"{billed:,.2f}",
                      help=f"{lines:,} lines; effective cost {effective:,.2f} (exact sums, shown to the cent)")


def render_mapping_editor(con: duckdb.DuckDBPyConnection, user: User, files: Sequence[Upload]) -> None:
    """The editor for one of the uploaded files; a caption only until a file is uploaded."""
    if not files:
        st.caption("Upload a file above to map its columns to a table without code.")
        return
    names = [f.name for f in files]
    pick = st.selectbox("File to map", list(range(len(files))), format_func=lambda i: names[i], key="map_file")
    upload = files[pick or 0]
    data = upload.getvalue()
    try:
        head = upload_head(data, upload.name)
    except ApportionError as exc:
        st.error(plain(exc))
        return
    st.caption(plain(f"{len(head.columns)} columns; the first rows:"))
    st.dataframe(head.rows, hide_index=True, width="stretch")

    st.selectbox("Start from", [NEW, *list_profiles(con)], key="map_start", on_change=_start_from,
                 args=(con, head.columns), format_func=lambda n: n or "a new mapping",
                 help="Fill the form from a saved profile, to change it and save the next version.")
    if err := st.session_state.pop("map_start_error", None):
        st.error(plain(err))
    c1, c2 = st.columns(2)
    name = c1.text_input("Profile name", key="map_name", max_chars=80)
    st.session_state.setdefault("map_table", "cost_line")
    table = c2.selectbox("Target table", list(MAPPABLE), key="map_table") or "cost_line"

    st.markdown("**Columns** (* required)")
    file_cols = list(head.columns)
    choices: dict[str, Choice] = {}
    period_from: str | None = None
    grid = st.columns(2)
    for i, (col, required) in enumerate(form_columns(table)):
        cell = grid[i % 2]
        extra = [FROM + p for p in PERIOD_SOURCES] if table == "cost_line" and col == "billing_period" else []
        options = [NOT_MAPPED, CONSTANT, *extra, *file_cols]
        key = f"map_col_{table}_{col}"
        if st.session_state.get(key) not in options:   # first view, or another file with other columns
            st.session_state[key] = suggest_column(col, file_cols)
        picked = cell.selectbox(plain(col + (" *" if required else "")), options, key=key,
                                format_func=_option_label)
        if picked == CONSTANT:
            value = cell.text_input(plain(f"{col}: constant value"), key=f"map_const_{table}_{col}")
            choices[col] = Choice(CONSTANT, value)
        elif picked is not None and picked.startswith(FROM) and picked in extra:
            period_from = picked.removeprefix(FROM)
        elif picked:
            choices[col] = Choice(picked)

    tags: dict[str, str] = {}
    if table == "cost_line":
        st.markdown("**Tags**: any number of columns, each under a tag key (keys are normalised at ingest)")
        tag_cols = st.multiselect("Tag columns", file_cols, key="map_tags")
        for col in tag_cols:
            st.session_state.setdefault(f"map_tagkey_{col}", suggest_tag_key(col))
            key = st.text_input(plain(f"Tag key for {col}"), key=f"map_tagkey_{col}")
            tags[key] = col
    o1, o2 = st.columns(2)
    day_first = o1.checkbox("Dates are day first (31/12/2025)", key="map_day_first")
    formats = o2.text_input("Other date formats, in order (separated by ;)", key="map_formats",
                            placeholder="%d.%m.%Y; %Y%m%d", help="ISO 8601 is always read; nothing else is guessed.")

    profile: MappingProfile | None = None
    if not name.strip():
        st.caption("Name the mapping to preview or save it.")
    else:
        try:
            profile = draft_profile(name, table, choices, billing_period_from=period_from, tags=tags,
                                    day_first=day_first, date_formats=formats.split(";"))
        except ApportionError as exc:
            st.warning(plain(exc))

    comment = st.text_input("Why (saved with the version)", key="map_comment")
    b1, b2, b3 = st.columns(3)
    preview = b1.button("Preview", key="map_preview", disabled=profile is None, icon=":material/preview:")
    save = b2.button("Save profile", key="map_save", disabled=profile is None, icon=":material/save:")
    saved = profile is not None and profile.name in list_profiles(con)
    load = b3.button("Load file with the saved profile", key="map_load", type="primary",
                     disabled=not saved and not save, icon=":material/upload:")
    if profile is None:
        return
    if preview:
        res = ingest_bytes(con, data, upload.name, kind="generic", options={"mapping": profile.model_dump(mode="json")},
                           user=user.username, dry_run=True)
        _show_dry_run(res)
    if save:
        try:
            out = save_profile(con, profile, user=user, comment=comment)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            if out.changed:
                st.success(plain(f"Saved '{profile.name}' as version {out.version}."))
            else:
                st.info(plain(f"'{profile.name}' is unchanged: version {out.version} stays in force."))
    if load:
        res = ingest_bytes(con, data, upload.name, kind="generic", options=ingest_options(con, profile.name),
                           user=user.username)
        _show_load(con, res)
