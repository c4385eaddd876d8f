"""Download buttons that leave nothing behind: files are built on click, for the live session only, and swept soon.

Streamlit 1.67 stores a button's bytes in its media store as soon as the button renders (`/media/<id>.csv`, served
to anyone with the URL, no cookie asked) and drops them when the session shuts down; a session whose browser
closed is kept for reconnection and then expires without shutting down, so its files stayed reachable (measured:
still 200 after the owner's browser closed). Here every button gets a callable instead (`st.download_button`'s
deferred data): nothing is stored until the click; the callable refuses when the session that showed the button is
no longer connected; the file it makes is kept for the browser's fetch for `SWEEP_S` seconds (`_pin`), then
swept by two orphan passes `SWEEP_S` and 2 × `SWEEP_S` seconds after the click (Streamlit deletes an orphaned
download on its second pass). `on_click="ignore"`: a download does not rerun the page.

Why the pin: Streamlit leaves the file a click makes unmapped, and every script run of any session ends with an
orphan pass, so two runs anywhere between the click's answer and the browser's GET deleted it — the download
failed with 404. A room of twenty sessions (bench/room.py) hit it in one of a few dozen downloads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import polars as pl
import streamlit as st
from streamlit import runtime
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.runtime.scriptrunner import get_script_run_ctx

from engine.errors import AccessDenied
from engine.outputs import exports
from ui.formats import plain

SWEEP_S = 10.0
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Data = bytes | str


PINS = "apportion-download-pins"   # a key of no session: the media store's references held for fetches


def _pin(data: Data, mime: str, file_name: str) -> str:
    """Reference the file Streamlit is about to store for this click (its id is a hash of bytes, type and name),
    under a key no session has, so orphan passes leave it until `_unpin`. Returns the id. Streamlit 1.67's media
    store internals: tests/e2e/test_wire_session.py fails if they change."""
    mgr = runtime.get_instance().media_file_mgr
    file_id = _calculate_file_id(data.encode() if isinstance(data, str) else data, mime, file_name)
    with mgr._lock:  # noqa: SLF001 - see the docstring
        mgr._files_by_session_and_coord.setdefault(PINS, {})[file_id] = file_id  # noqa: SLF001
    return file_id


def _unpin(file_id: str) -> None:
    if runtime.exists():
        mgr = runtime.get_instance().media_file_mgr
        with mgr._lock:  # noqa: SLF001
            mgr._files_by_session_and_coord.get(PINS, {}).pop(file_id, None)  # noqa: SLF001


def _sweep(file_id: str | None = None) -> None:
    if file_id is not None:
        _unpin(file_id)
    if runtime.exists():
        runtime.get_instance().media_file_mgr.remove_orphaned_files()


def _schedule_sweeps(file_id: str) -> None:
    for delay, unpin in ((SWEEP_S, file_id), (2 * SWEEP_S, None)):
        timer = threading.Timer(delay, _sweep, args=(unpin,))
        timer.daemon = True
        timer.start()


def lazy(make: Callable[[], Data], mime: str, file_name: str) -> Callable[[], Data]:
    """`make` as deferred download data bound to the current session: it runs on click, only while that session is
    connected; its file is kept for the fetch, then swept (see the module docstring)."""
    ctx = get_script_run_ctx()
    session_id = ctx.session_id if ctx is not None else None

    def build() -> Data:
        if session_id is None or not runtime.exists() or not runtime.get_instance().is_active_session(session_id):
            raise AccessDenied("the session that offered this download has ended")
        data = make()
        _schedule_sweeps(_pin(data, mime, file_name))
        return data

    return build


def download(where: DeltaGenerator, label: str, make: Callable[[], Data], file_name: str, mime: str, *,
             key: str | None = None, icon: str = ":material/download:", help: str | None = None) -> None:  # noqa: A002
    """One lazy download button in `where` (st itself or a column)."""
    where.download_button(plain(label), lazy(make, mime, file_name), file_name, mime, key=key, icon=icon,
                          on_click="ignore", help=plain(help) if help else None)


def download_row(df: pl.DataFrame, basename: str, key: str) -> None:
    """CSV, XLSX and Parquet of the table on screen, neutralised against formulas, each built only when clicked."""
    c1, c2, c3 = st.columns(3)
    download(c1, "Download CSV", lambda: exports.to_csv_bytes(df), f"{basename}.csv", "text/csv", key=f"{key}_csv")
    download(c2, "Download Excel", lambda: exports.to_xlsx_bytes({"data": df}), f"{basename}.xlsx", XLSX,
             key=f"{key}_xlsx")
    download(c3, "Download Parquet", lambda: exports.to_parquet_bytes(df), f"{basename}.parquet",
             "application/octet-stream", key=f"{key}_parquet")
