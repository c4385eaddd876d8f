"""`python -m engine journal --period YYYY-MM --layout sap|oracle|csv [--run KEY] --out FILE`: the ERP journal.

Writes the period's chargeback and depreciation journal for one run (default: the month's locked close, else its
latest posted run) in the chosen layout (docs/journals.md). Writes nothing to the store. Exit 0 written; 1 refused
(bad period, no posted run, a pool without GL mapping, a second currency, a document that does not balance);
2 the store cannot be opened.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli import open_store
from engine.errors import ApportionError
from engine.outputs import journals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="month, YYYY-MM")
    parser.add_argument("--layout", choices=sorted(journals.LAYOUTS), default="csv",
                        help="sap (BAPI_ACC_DOCUMENT_POST flat file), oracle (GL_INTERFACE) or csv (generic)")
    parser.add_argument("--run", default=None, help="run key (default: the locked close, else the latest posted run)")
    parser.add_argument("--out", required=True, help="file to write")


def run(args: argparse.Namespace) -> int:
    con = open_store(args.db)
    if con is None:
        return 2
    try:
        journal, data = journals.export(con, args.period, args.layout, args.run)
    except ApportionError as exc:
        print(f"no journal written: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"wrote {len(journal.documents)} balanced documents ({journal.total_debit} {journal.currency} debits) of "
          f"run {journal.run_key[:12]} ({journal.run_state}, {journal.reference}) for {journal.period} to {out}"
          + (f"; {journal.unallocated} {journal.currency} stays unallocated" if journal.unallocated else ""))
    return 0
