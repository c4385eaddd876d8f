"""What month close has done: posted and failed runs, newest first."""

from __future__ import annotations

import duckdb
import polars as pl

from engine.store.sql import frame


def list_runs(con: duckdb.DuckDBPyConnection, period: str | None = None, limit: int = 100) -> pl.DataFrame:
    where, params = ("WHERE period = ?", [period]) if period else ("", [])
    return frame(con.sql(
        f"""SELECT run_key, period, rule_set, rule_version, basis, status, total_in::DECIMAL(18, 2) AS total_in,
                   total_out, started_by, started_at, finished_at
            FROM allocation_run {where} ORDER BY started_at DESC LIMIT ?""",
        params=[*params, limit],
    ))
