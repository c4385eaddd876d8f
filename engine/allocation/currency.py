"""Nothing adds two currencies: a month closes only when every cost line of it is in the reporting currency
(converted at ingest, engine/fx/convert.py), and the run key covers the FX rates the lines carry."""

from __future__ import annotations

import hashlib
import json

import duckdb

from engine.errors import AllocationError
from engine.settings import get_settings

# lines loaded without FX (other writers, or before migration 0025 filled the column) are in their billing currency
LINE_CURRENCY = "coalesce(reporting_currency, billing_currency)"


def _native(con: duckdb.DuckDBPyConnection, period: str, cur: str) -> bool:
    """True when every line of the period is billed in `cur` and carries no FX record — the usual month, answered
    from two plain columns. (The line currency is a virtual column read from the FX record's JSON: measured on 10M
    lines, 17 ms to group it against 2 ms for this count.)"""
    return not con.execute("SELECT count(*) FROM cost_line WHERE billing_period = ? "
                           "AND (billing_currency IS DISTINCT FROM ? OR fx_detail IS NOT NULL)",
                           [period, cur]).fetchall()[0][0]


def guard(con: duckdb.DuckDBPyConnection, period: str, reporting: str | None = None) -> None:
    """Refuse (AllocationError) a period whose lines carry another reporting currency than the setting."""
    cur = reporting or get_settings().currency
    if _native(con, period, cur):
        return
    other = con.execute(
        f"SELECT {LINE_CURRENCY} AS c, count(*), string_agg(DISTINCT billing_currency, ', ' ORDER BY billing_currency) "
        f"FROM cost_line WHERE billing_period = ? AND {LINE_CURRENCY} IS DISTINCT FROM ? GROUP BY 1 ORDER BY 1",
        [period, cur]).fetchall()
    if other:
        found = "; ".join(f"{n:,} line(s) in {c} (billed in {b})" for c, n, b in other)
        raise AllocationError(
            f"cannot allocate {period}: its cost lines are not all in the reporting currency {cur} ({found}); "
            "load the FX rates for the month (FX rates page or python -m engine fx load FILE), then roll back and "
            "re-load those files so they are converted — a run never adds two currencies")


def rates_used(con: duckdb.DuckDBPyConnection, period: str) -> list[list[str]]:
    """(billing currency, rate, lines) of the period's converted foreign lines; empty for one-currency months."""
    if not con.execute("SELECT count(*) FROM cost_line WHERE billing_period = ? AND fx_detail IS NOT NULL",
                       [period]).fetchall()[0][0]:
        return []   # no FX record, no converted line: billing and line currency are the same column then
    return [[str(c), str(r), str(n)] for c, r, n in con.execute(
        "SELECT billing_currency, fx_rate, count(*) FROM cost_line WHERE billing_period = ? "
        f"AND billing_currency <> {LINE_CURRENCY} GROUP BY ALL ORDER BY ALL", [period]).fetchall()]


def keyed(key: str, used: list[list[str]]) -> str:
    """The run key with the FX rates in it; a month without foreign lines keeps its key."""
    if not used:
        return key
    return hashlib.sha256(json.dumps({"key": key, "fx": used}, sort_keys=True).encode()).hexdigest()
