"""`python -m engine masterdata apply|revert|list`: effective-dated ownership changes from a file, undo, history.

`apply FILE --effective YYYY-MM --reason TEXT --actor NAME` reads entity,key,field,value rows
(engine/masterdata/batches.py), applies them as one batch and prints what each replaced and the posted months it
affects (re-run them to post the new org beside the old run). Exit codes: 0 done, 1 refused (the reason is printed,
nothing was written), 2 the store could not be opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli import open_store
from engine.errors import ApportionError
from engine.masterdata import batches


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="md_command", required=True, metavar="{apply,revert,list}")
    a = sub.add_parser("apply", help="apply a batch file (entity,key,field,value) from a month on")
    a.add_argument("file", type=Path)
    a.add_argument("--effective", required=True, help="first month (YYYY-MM) the new values apply to")
    r = sub.add_parser("revert", help="undo a batch (the newest on each field it changed)")
    r.add_argument("batch_no", type=int)
    for p in (a, r):
        p.add_argument("--reason", required=True, help="why: recorded in the audit trail")
        p.add_argument("--actor", required=True, help="who applies it (recorded in the audit trail)")
    sub.add_parser("list", help="every batch, newest first")
    for p in sub.choices.values():
        p.add_argument("--db", default=argparse.SUPPRESS,
                       help="DuckDB file (default: APPORTION_DB_PATH or data/apportion.duckdb)")


def _print(result: batches.BatchResult, verb: str) -> None:
    print(f"{verb} master-data batch {result.batch_no}, effective from {result.effective_from}:")
    for c in result.changes:
        print(f"  {c.entity} {c.key}.{c.field}: {c.old_value or '(none)'} → {c.new_value or '(none)'}")
    if result.posted_periods_affected:
        print("posted months affected (re-run to post with the new org): "
              + ", ".join(result.posted_periods_affected))


def run(args: argparse.Namespace) -> int:
    found = open_store(getattr(args, "db", None), read_only=args.md_command == "list")   # in the app: its cursor
    if found is None:
        return 2
    con = found
    try:
        if args.md_command == "list":
            print(batches.list_batches(con))
        elif args.md_command == "apply":
            changes = batches.read_changes_csv(args.file)
            _print(batches.apply_batch(con, changes, args.effective, args.actor, args.reason), "applied")
        else:
            _print(batches.revert_batch(con, args.batch_no, args.actor, args.reason), "reverted")
        return 0
    except ApportionError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
