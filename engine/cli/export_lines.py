"""`python -m engine export-lines --period YYYY-MM --out DIR`: the tables the month close's pool query reads, as
Parquet, for a pool source elsewhere (`allocate --engine spark --lines DIR`, docs/spark.md).

DIR gets one `<table>.parquet` per table in backends/spark.py TABLES: cost_line holds the period's lines only (by
billing period, plus the lines charged in the period's dates under a week-based fiscal scheme); the owner tables and
the master-data history are written whole (they are small). Writes nothing to the store. Exit 0 written; 1 refused
(bad period, no lines); 2 the store cannot be opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import duckdb

from engine.allocation.backends.spark import TABLES
from engine.cli import open_store
from engine.errors import ApportionError, InputError
from engine.fiscal import calendar as fiscal_calendar
from engine.rules.versions import PERIOD
from engine.settings import get_settings


def export_tables(con: duckdb.DuckDBPyConnection, period: str, folder: Path) -> dict[str, int]:
    """Write the pool query's tables for `period` into `folder`; rows written per table."""
    if not PERIOD.match(period):
        raise InputError(f"period must be YYYY-MM, not {period!r}")
    settings = get_settings()
    cal = fiscal_calendar.FiscalCalendar(settings.fiscal_year_start_month, settings.fiscal_period_scheme)
    where = "billing_period = ?"
    params: list[Any] = [period]
    if not cal.is_calendar:
        start, end = cal.window(period)
        where += " OR (charge_period_start >= ? AND charge_period_start < ?)"
        params += [start, end]
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for table in TABLES:
        rel = (con.sql(f"SELECT * FROM cost_line WHERE {where}", params=params) if table == "cost_line"
               else con.table(table))
        path = folder / f"{table}.parquet"
        rel.write_parquet(str(path))
        written[table] = int(con.sql("SELECT count(*) FROM read_parquet(?)", params=[str(path)]).fetchall()[0][0])
    if not written["cost_line"]:
        raise InputError(f"there are no cost lines for {period}")
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="month, YYYY-MM")
    parser.add_argument("--out", required=True, help="folder to write <table>.parquet files into")


def run(args: argparse.Namespace) -> int:
    con = open_store(args.db)
    if con is None:
        return 2
    out = Path(args.out)
    try:
        written = export_tables(con, args.period, out)
    except ApportionError as exc:
        print(f"cannot export: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    print(f"wrote {args.period} to {out}: " + ", ".join(f"{t} {n:,}" for t, n in written.items()))
    return 0
