"""`python -m engine fx load FILE [--layout ecb|long] [--user U]`, `fx list [--period P] [--history]`,
`fx set PERIOD CURRENCY RATE --user U`: the FX rate table (docs/fx.md). Exit 0 ok, 1 refused (bad file or value,
a user who may not change rates), 2 when the store cannot be opened."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.access.users import get_user
from engine.cli import open_store
from engine.errors import ApportionError
from engine.fx import rates


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fx_command", required=True)
    load = sub.add_parser("load", help="load a rates CSV (ECB reference rates or period,currency,rate)")
    load.add_argument("file", help="the rates CSV")
    load.add_argument("--layout", choices=("ecb", "long"), default=None, help="default: recognised from the header")
    load.add_argument("--user", default="admin", help="who loads it (needs the manage_fx role: finops, admin)")
    listing = sub.add_parser("list", help="the rates in force for the reporting currency")
    listing.add_argument("--period", default=None, help="one month, YYYY-MM")
    listing.add_argument("--history", action="store_true", help="include superseded versions")
    one = sub.add_parser("set", help="enter one rate: reporting-currency units per 1 unit of CURRENCY")
    one.add_argument("period", help="YYYY-MM")
    one.add_argument("currency", help="ISO 4217 code")
    one.add_argument("rate", help="exact decimal, at most 10 decimals")
    one.add_argument("--user", required=True, help="who enters it (finops or admin)")


def run(args: argparse.Namespace) -> int:
    con = open_store(getattr(args, "db", None), read_only=args.fx_command == "list")
    if con is None:
        return 2
    try:
        if args.fx_command == "list":
            frame = rates.table(con, period=args.period, history=args.history)
            if frame.is_empty():
                print(f"no FX rates for reporting currency {rates.reporting_currency()}"
                      + (f" in {args.period}" if args.period else ""))
                return 0
            for r in frame.iter_rows(named=True):
                state = "in force" if r["in_force"] else f"superseded {r['superseded_at']:%Y-%m-%d %H:%M}"
                print(f"{r['period']}  {r['currency']}  {r['rate']}  v{r['version']}  {r['source']}  "
                      f"{r['entered_by']}  {state}")
            return 0
        user = get_user(con, args.user)
        if user is None:
            print(f"no active user '{args.user}' in this store: cannot change FX rates", file=sys.stderr)
            return 1
        if args.fx_command == "load":
            path = Path(args.file)
            if not path.is_file():
                print(f"there is no file {path}", file=sys.stderr)
                return 1
            stored = rates.load_file(con, user, path.read_bytes(), path.name, args.layout)
            print(f"{path.name} ({stored.layout} layout): {stored.describe()}; reporting currency "
                  f"{rates.reporting_currency()}")
            return 0
        stored = rates.set_rate(con, user, args.period, args.currency, args.rate)
        print(f"{args.currency.upper()} {args.period}: {stored.describe()}")
        return 0
    except ApportionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        con.close()
