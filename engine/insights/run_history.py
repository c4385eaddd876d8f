"""What month close has done: posted, superseded and failed runs, newest first, labelled for people."""

from __future__ import annotations

import duckdb
import polars as pl

from engine.store.sql import frame


def list_runs(con: duckdb.DuckDBPyConnection, period: str | None = None, limit: int = 100) -> pl.DataFrame:
    """One row per run with a readable `run` label ("demo_default v3 · effective · 2026-11-02 14:05 · fiona ·
    #1a2b3c"), the amounts, who ran it and whether it is the locked close of its month; `run_key` for lookups."""
    where, params = ("WHERE r.period = ?", [period]) if period else ("", [])
    return frame(con.sql(
        f"""SELECT r.rule_set || ' v' || r.rule_version || ' · ' || r.basis || ' · '
                       || strftime(r.started_at, '%Y-%m-%d %H:%M') || ' · ' || coalesce(r.started_by, '?')
                       || ' · #' || left(r.run_key, 6) AS run,
                   r.period, r.status, r.total_in::DECIMAL(18, 2) AS total_in, r.total_out,
                   (r.total_in::DECIMAL(18, 2) - r.total_out) AS difference,
                   coalesce(pc.state = 'locked' AND pc.run_key = r.run_key, false) AS locked_close,
                   r.started_by, r.started_at, r.run_key
            FROM allocation_run r LEFT JOIN period_close pc ON pc.period = r.period {where}
            ORDER BY r.started_at DESC LIMIT ?""",
        params=[*params, limit],
    ))
