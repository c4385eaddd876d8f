"""`python -m engine methodology`: the allocation methodology generated from the rule version in force.

Writes Markdown (default) or printable HTML to `--out FILE` or to standard output. Writes nothing to the store (it
is opened like every job, so pending migrations apply). Exit 0 written, 1 no such rule set / no approved version /
bad period, 2 the store cannot be opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli import open_store
from engine.errors import ApportionError
from engine.outputs import methodology


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rule-set", default=None,
                        help="rule set NAME (default: the one of the latest posted run, else the first approved)")
    parser.add_argument("--period", default=None,
                        help="month whose version in force is described, YYYY-MM (default: latest with cost lines)")
    parser.add_argument("--format", choices=["md", "html"], default="md", help="md (default) or html")
    parser.add_argument("--out", default=None, help="file to write (default: standard output)")


def run(args: argparse.Namespace) -> int:
    con = open_store(args.db)
    if con is None:
        return 2
    try:
        doc = methodology.build(con, args.rule_set, args.period)
    except ApportionError as exc:
        print(f"cannot generate the methodology: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    text = doc.to_html() if args.format == "html" else doc.to_markdown()
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote the methodology of {doc.rule_set} v{doc.version} (in force for {doc.period},"
              f" body {doc.body_hash[:12]}) to {out}")
    else:
        sys.stdout.write(text)
    return 0
