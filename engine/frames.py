"""Columns computed by Python functions, in the calling thread — never inside a Polars expression.

Polars runs `map_elements` / `map_batches` on its thread pool, whose workers must take the GIL to call the Python
function. A thread that holds the GIL while it waits on that same pool — `DataFrame.to_pandas`, which Streamlit calls
for every `st.dataframe` of a Polars frame — then waits for workers that wait for it: in the app's one process, one
session's table and another's Python-mapped column froze the whole server, every session and the websocket
handshakes with it (docs/reliability.md "Serving a room": py-spy and gdb stacks of a room of sixteen). So a column
that needs Python is computed here, as a list, and added as a Series; tests/unit/test_polars_threads.py forbids the
Python-calling expressions in the code the app runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl


def py_column(df: pl.DataFrame, name: str, fn: Callable[..., Any], *columns: str, dtype: pl.DataType,
              skip_nulls: bool = True) -> pl.Series:
    """`fn(*row values of columns)` for each row, as the Series `name`. `skip_nulls`: a row with a null in any of
    `columns` gets null without calling `fn` (what `map_elements` does for one column)."""
    rows = zip(*(df[c].to_list() for c in columns), strict=True)
    values = [None if skip_nulls and any(v is None for v in row) else fn(*row) for row in rows]
    return pl.Series(name, values, dtype=dtype)
