"""`python -m engine audit verify|export`: check the audit trail headless, or export it for an auditor.

`verify` prints the same verdict as the Audit trail page, then every break (one line each) and exits 3 on any
break (an integrity failure, docs/cli.md), 2 when it cannot verify at all (no store, store busy, no audit key), 0
when the trail is intact.
`export --out FILE.csv` writes the whole trail as formula-safe CSV and the verification summary beside it
(FILE.summary.txt, also printed); the exit code is verify's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli import exits, open_store, resolve_db
from engine.errors import ApportionError
from engine.outputs import audit_export
from engine.store import audit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="{verify,export}")
    for name, help_text in (("verify", "check every event, link, key epoch and the head file; list every break"),
                            ("export", "write the trail as CSV plus a verification summary")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--db", default=argparse.SUPPRESS,
                       help="DuckDB file (default: APPORTION_DB_PATH or data/apportion.duckdb)")
        if name == "export":
            p.add_argument("--out", required=True, help="CSV file to write; the summary goes to FILE.summary.txt")


def summary_path(out: Path) -> Path:
    return out.with_name(out.stem + ".summary.txt")


def run(args: argparse.Namespace) -> int:
    db = resolve_db(getattr(args, "db", None))
    if not db.exists():
        print(f"cannot verify: there is no store at {db}", file=sys.stderr)
        return 2
    con = open_store(str(db), read_only=True)   # inside the app: the job's cursor (engine/jobs/)
    if con is None:
        return 2
    try:
        result = audit.verify(con)
        if args.audit_command == "export":
            data = audit_export.export_csv(con)
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            summary = audit_export.summary_text(result, data, db.name)
            summary_path(out).write_text(summary, encoding="utf-8")
            print(summary, end="")
            print(f"wrote {result.checked} events to {out} and the summary to {summary_path(out)}")
        else:
            print("\n".join(result.lines()))
    except ApportionError as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    return exits.OK if result.ok else exits.INTEGRITY
