"""`python -m engine explain --period YYYY-MM --target ID [--run RUN_KEY] [--json]`: a posted charge to the cent.

Prints each (origin pool → target) cell with the chains of steps its money travelled (pool total, driver, quantity,
total quantity, share at full precision, exact amount), its posted cents and the rounding adjustment
(engine/allocation/explain.py; docs/explain.md). Read-only. Exit 0 explained, 1 bad arguments / unknown target /
no posted run / inputs changed since posting, 2 the store cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.access.users import User
from engine.allocation import explain
from engine.cli import open_store
from engine.errors import ApportionError

OPERATOR = User("cli", "Command line", "admin", None)  # a headless job runs unscoped, like allocate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="month, YYYY-MM")
    parser.add_argument("--target", required=True, help="business unit, cost centre or application id")
    parser.add_argument("--run", default=None, help="run key (default: the period's latest posted run)")
    parser.add_argument("--json", action="store_true", help="print JSON (numbers as exact strings)")


def _text(e: explain.Explanation) -> str:
    out = [f"{e.target_kind} {e.target_id} · {e.period} · run {e.run_key[:12]} ({e.rule_set} v{e.rule_version})",
           f"posted total {e.posted_total} (exact {e.exact_total:f}) in {len(e.cells)} cells", ""]
    for c in e.cells:
        out.append(f"cell {c.source_pool} → {c.target_kind} {c.target_id}: exact {c.exact:f}, posted {c.posted},"
                   f" rounding adjustment {c.adjustment:+}")
        for ch in c.chains:
            for h in ch.hops:
                q = "" if h.quantity is None else f" quantity {h.quantity:f} / {h.total_quantity:f}"
                s = "solved" if h.share is None else f"share {h.share:f}"
                out.append(f"    step {h.step} {h.step_id} ({h.method}{' ' + h.driver if h.driver else ''}):"
                           f" in {h.amount_in:f}{q} {s} → {h.receiver_kind} {h.receiver_id} {h.amount:f}")
            out.append(f"    = {ch.exact:f}")
        out.append(f"  re-derive: {explain.rederive_line(c)}")
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    con = open_store(args.db)
    if con is None:
        return 2
    try:
        e = explain.explain(con, OPERATOR, args.period, args.target, args.run)
    except ApportionError as exc:
        print(f"cannot explain {args.target} for {args.period}: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    sys.stdout.write(json.dumps(explain.as_dict(e), indent=2) + "\n" if args.json else _text(e))
    return 0
