"""ERP journals of a posted run: GL mapping per pool (mapping), balanced documents (entries), file layouts (layouts).

`export(con, period, layout, run_key)` is what the CLI and the month-close download call (docs/journals.md).
"""

from __future__ import annotations

import duckdb

from engine.outputs.journals.entries import Document, Journal, Line, build, resolve_run
from engine.outputs.journals.layouts import LAYOUTS, file_name, render

__all__ = ["LAYOUTS", "Document", "Journal", "Line", "build", "export", "file_name", "render", "resolve_run"]


def export(con: duckdb.DuckDBPyConnection, period: str, layout: str, run_key: str | None = None
           ) -> tuple[Journal, bytes]:
    """The period's journal (see entries.build) and its bytes in `layout`."""
    journal = build(con, period, run_key)
    return journal, render(journal, layout)
