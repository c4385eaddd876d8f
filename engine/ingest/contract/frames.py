"""What every connector may use to hand the engine its rows: the canonical tables' typed columns, a frame turned
into a stage plan, and a SQL plan turned back into frames.

- `plan_from_frame`: a connector that builds a Polars frame (small inventories) gets the same SQL validation as
  the bulk ones, because its frame becomes a `StagePlan` over `__frame`.
- `run_plan_to_frame`: `Connector.parse` for SQL-plan connectors (previews, small files, tests). It runs the
  engine's own staging in a scratch file, so the frame is exactly what the pipeline would load. The staging module
  is imported when called: it sits above this contract (it asks the registry for connectors).
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from engine import store
from engine.errors import InputError
from engine.ingest.contract.connector import Connector, ParseResult
from engine.ingest.contract.rules import StagePlan, parse_check, q


@cache
def table_columns() -> dict[str, list[tuple[str, str]]]:
    """Canonical tables and their stored, typed columns, taken from the migrations so staging never drifts from the
    store. Generated (VIRTUAL) columns are left out: nothing writes them (migration 0028)."""
    con = duckdb.connect(":memory:")
    try:
        store.migrate(con)
        rows = con.sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND is_generated = 'NEVER' ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, col, dtype in rows:
        out.setdefault(str(table), []).append((str(col), str(dtype)))
    return out


def _columns(table: str) -> list[tuple[str, str]]:
    cols = table_columns().get(table)
    if cols is None:
        raise InputError(f"unknown target table '{table}'")
    return cols


def stored_columns(table: str) -> list[str]:
    """Every stored column of `table`, quoted, in order: the column list of a copy between tables that share them
    (a `SELECT *` would also carry the generated columns)."""
    return [q(c) for c, _ in _columns(table)]


def target_columns(table: str) -> list[tuple[str, str]]:
    return [(c, t) for c, t in _columns(table) if c != "batch_id"]


def plan_from_frame(con: duckdb.DuckDBPyConnection, res: ParseResult) -> StagePlan:
    """Connectors that build a Polars frame (small inventories) get the same SQL validation as the bulk ones."""
    frame = res.frame
    if "__row" not in frame.columns:
        frame = frame.with_row_index("__row", offset=1).with_columns(pl.col("__row").cast(pl.Int64))
    con.register("__frame", frame.to_arrow())
    cols = {c: f"s.{q(c)}" for c in frame.columns if c != "__row"}
    exprs: dict[str, str] = {}
    checks = []
    for col, dtype in target_columns(res.target_table):
        if col not in cols:
            continue
        raw = cols[col]
        if dtype.upper().startswith(("VARCHAR", "MAP", "JSON")):
            exprs[col] = raw if dtype.upper().startswith("MAP") else f"nullif(trim(CAST({raw} AS VARCHAR)), '')"
        else:
            exprs[col] = f"TRY_CAST({raw} AS {dtype})"
            checks.append(parse_check(col, raw, exprs[col], f"a {dtype.lower()} value"))
    con.register("__frame_quarantine", res.quarantine.to_arrow())
    rejects = ("SELECT row_number::BIGINT AS row_number, column_name, reason, raw FROM __frame_quarantine"
               if res.quarantine.height else None)
    return StagePlan(kind=res.kind, target_table=res.target_table, source_sql="SELECT * FROM __frame",
                     columns=exprs, checks=checks, warnings=list(res.warnings), rejects_sql=rejects)


def run_plan_to_frame(connector: Connector, path: Path, **options: Any) -> ParseResult:
    """`Connector.parse` for SQL-native connectors: stage in a scratch file and hand back Polars frames.
    For previews and small files; the pipeline itself never materialises the rows in Python."""
    from engine.ingest.staging import ACCEPTED, REJECTED, STAGED, stage  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="apportion-parse-") as d:
        out = Path(d) / "staged.duckdb"
        meta = stage(path, out, kind=connector.name, options=options)
        con = duckdb.connect(str(out), read_only=True)
        try:
            frame = con.sql(f"SELECT * EXCLUDE (__row) FROM {ACCEPTED} ORDER BY __row").pl()
            quarantine = con.sql(
                f"SELECT __row AS row_number, __column AS column_name, __reason AS reason, __raw AS raw "
                f"FROM {STAGED} WHERE __reason IS NOT NULL UNION ALL SELECT * FROM {REJECTED} ORDER BY 1").pl()
        finally:
            con.close()
    return ParseResult(kind=meta.kind, target_table=meta.target_table, frame=frame, quarantine=quarantine,
                       rows_read=meta.rows_read, warnings=meta.warnings)
