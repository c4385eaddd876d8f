"""SQL text helpers shared by every module that builds DuckDB SQL: identifier and literal quoting, and typed
frames. One copy here; the ingest contract re-exports `q` and `lit` for the connectors.

`lit` is for text this code chose (a tag key from the standard, a temp file's path, a format string), never a way
around parameters for cell values or user input: those go in `params=[...]`.
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl


def q(name: str) -> str:
    """Quote an identifier for DuckDB (source headers can hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal for text the code chose."""
    return "'" + text.replace("'", "''") + "'"


def frame(rel: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """A relation as a Polars frame, typed (DuckDB's stubs leave `.pl()` untyped)."""
    out: pl.DataFrame = rel.pl()
    return out


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """`con.sql(sql, params=...)` as a typed Polars frame."""
    return frame(con.sql(sql, params=params) if params is not None else con.sql(sql))
