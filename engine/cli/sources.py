"""`python -m engine sources list | run [--source NAME] [--due]`: live sources from a cron job or a shell.

`list` prints every source with its freshness, rows and next run; `run` runs one source (`--source`), every due
source (`--due`), or every unpaused source (neither). The app process is the store's single writer: while it runs,
it runs due sources itself and this command cannot open the file (exit 2, docs/sources.md).
Exit 0 every run succeeded, 1 a run failed or bad arguments, 2 the store cannot be opened.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

from engine.access.users import User
from engine.cli import open_store
from engine.errors import ApportionError
from engine.sources import freshness, runner
from engine.sources.config import list_sources

OPERATOR = User("cli", "Command line", "admin", None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "run"))
    parser.add_argument("--source", default=None, help="run this source only")
    parser.add_argument("--due", action="store_true", help="run only the sources whose next run has come")


def _list(con: duckdb.DuckDBPyConnection) -> int:
    table = freshness.overview(con)
    if table.is_empty():
        print("no sources configured")
        return 0
    for r in table.to_dicts():
        age = "never" if r["age_minutes"] is None else f"{r['age_minutes']:.0f} min"
        nxt = "paused" if r["paused"] else f"{r['next_run']:%Y-%m-%d %H:%M} UTC"
        print(f"{r['source']}\t{r['kind']}\t{r['freshness']} ({age} / target {r['target_minutes']} min)\t"
              f"rows {r['rows_total']}\tnext {nxt}\t{r['recommendation']}")
    return 0


def run(args: argparse.Namespace) -> int:
    con = open_store(args.db)
    if con is None:
        return 2
    try:
        if args.action == "list":
            return _list(con)
        if args.source:
            results = [runner.run_source(con, args.source, OPERATOR, trigger="cli")]
        elif args.due:
            results = runner.run_due(con, OPERATOR, trigger="cli")
        else:
            results = [runner.run_source(con, s.name, OPERATOR, trigger="cli") for s in list_sources(con)
                       if not s.paused]
    except ApportionError as exc:
        print(f"cannot run sources: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    for r in results:
        print(f"{r.source}: {r.status} — {r.rows_loaded} rows loaded, {r.calls} calls ({r.retries} retries), "
              f"{r.seconds:.1f} s; {r.message}")
    if not results:
        print("no source is due")
    return 0 if all(r.ok for r in results) else 1
