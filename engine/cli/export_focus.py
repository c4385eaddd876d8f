"""`python -m engine export-focus --period YYYY-MM [--run KEY] --out FILE`: allocated cost as FOCUS 1.0 rows.

CSV, or Parquet when FILE ends in .parquet (engine/outputs/focus_export.py, docs/journals.md). Writes nothing to the
store. Exit 0 written; 1 refused (bad period, no posted run); 2 the store cannot be opened.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

from engine.cli import open_store
from engine.errors import ApportionError
from engine.outputs import focus_export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="month, YYYY-MM")
    parser.add_argument("--run", default=None, help="run key (default: the locked close, else the latest posted run)")
    parser.add_argument("--out", required=True, help="file to write (.csv, or .parquet)")


def run(args: argparse.Namespace) -> int:
    con = open_store(args.db)
    if con is None:
        return 2
    out = Path(args.out)
    try:
        frame, data = focus_export.export(con, args.period, args.run,
                                          fmt="parquet" if out.suffix == ".parquet" else "csv")
    except ApportionError as exc:
        print(f"no FOCUS file written: {exc}", file=sys.stderr)
        return 1
    finally:
        con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    total = sum(frame["BilledCost"].to_list(), Decimal("0.00"))
    print(f"wrote {frame.height} FOCUS {focus_export.FOCUS_VERSION} rows ({total} allocated) for {args.period} "
          f"to {out}")
    return 0
