"""`python -m engine provision check|request`: a deployment pipeline asks before it deploys.

`check` answers without writing; `request` records the request with its decision (approved at once, or pending
for the named approver). Both print the decision (or JSON with --json). Exit codes: 0 within quota and budget
(approved), 4 needs approval (the approver is printed; the one command-specific code, docs/cli.md), 1 refused or bad
input, 2 the store could not be opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation

from engine.access.users import get_user
from engine.cli import open_store
from engine.errors import ApportionError, InputError
from engine.governance import provisioning

NEEDS_APPROVAL = 4   # not 3: 3 is every command's integrity failure (docs/cli.md)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="prov_command", required=True, metavar="{check,request}")
    for name, help_text in (("check", "the decision a request would get now (writes nothing)"),
                            ("request", "record the request and its decision")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--db", default=argparse.SUPPRESS,
                       help="DuckDB file (default: APPORTION_DB_PATH or data/apportion.duckdb)")
        p.add_argument("--user", required=True, help="the user asking (their role and scope apply)")
        p.add_argument("--cost-center", required=True)
        p.add_argument("--class", dest="resource_class", required=True,
                       help="resource class: an asset class (server, storage …), cloud_* or licence:<product>")
        p.add_argument("--quantity", type=_decimal, required=True)
        p.add_argument("--monthly-cost", type=_decimal, required=True, help="estimated monthly cost")
        p.add_argument("--justification", required=True)
        p.add_argument("--app", default=None, help="application id")
        p.add_argument("--period", default=None, help="month whose budget applies (default: the month after "
                       "the latest posted one)")
        p.add_argument("--json", action="store_true", help="print the decision as JSON")


def run(args: argparse.Namespace) -> int:
    found = open_store(getattr(args, "db", None), read_only=args.prov_command == "check")   # in the app: its cursor
    if found is None:
        return 2
    con = found
    try:
        user = get_user(con, args.user)
        if user is None:
            raise InputError(f"{args.user!r} is not a user of this store")
        req = provisioning.Request(args.cost_center, args.resource_class, args.quantity, args.monthly_cost,
                                   args.justification, args.app, args.period)
        if args.prov_command == "check":
            number, decision = None, provisioning.check(con, user, req)
        else:
            number, decision = provisioning.submit(con, user, req)
    except ApportionError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    if args.json:
        print(json.dumps({"request_no": number, **decision.as_dict()}, indent=2))
    else:
        head = f"request {number}: " if number is not None else ""
        print(head + ("approved: within quota and budget" if decision.approved
                      else f"needs approval by {decision.approver} ({decision.level})"))
        for line in decision.reasons + decision.policy:
            print(f"  {line}")
    return 0 if decision.approved else NEEDS_APPROVAL
