"""`python -m engine ingest PATH... [--source KIND] [--mapping NAME]`: the headless import for scheduled jobs.

Prints a text progress bar per file (stderr, only on a terminal unless --progress), a summary per file and a total;
exits 1 when any file was refused so a scheduler notices, 0 otherwise (duplicates are not failures).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from engine import store
from engine.cli import resolve_db
from engine.ingest.pipeline import IngestResult, ingest_file
from engine.ingest.sandbox import Limits

BAR = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files to load")
    parser.add_argument("--source", default=None, metavar="KIND",
                        help="connector to use instead of detecting it (e.g. focus, aws_cur, azure_cost)")
    parser.add_argument("--mapping", default=None, metavar="NAME", help="saved column mapping profile to apply")
    parser.add_argument("--encoding", default=None, help="text encoding when not UTF-8 (latin-1, utf-16)")
    parser.add_argument("--user", default="cli", help="recorded as the loader of each batch")
    parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="parser memory budget per file")
    parser.add_argument("--timeout", type=float, default=Limits.seconds, help="parser time budget per file (s)")
    parser.add_argument("--progress", action="store_true", help="draw the progress bar even when not a terminal")
    parser.add_argument("--json", action="store_true", help="print one JSON summary per file instead of text")


class TextProgress:
    """`[#######.......]  42%  Parsing and validating x.csv`, redrawn in place."""

    def __init__(self, out: TextIO, enabled: bool) -> None:
        self.out, self.enabled, self.last = out, enabled, -1

    def __call__(self, frac: float, message: str) -> None:
        if not self.enabled:
            return
        pct = int(max(0.0, min(1.0, frac)) * 100)
        if pct == self.last:
            return
        self.last = pct
        filled = int(BAR * pct / 100)
        self.out.write(f"\r[{'#' * filled}{'.' * (BAR - filled)}] {pct:3d}%  {message[:60]:<60}")
        self.out.flush()

    def done(self) -> None:
        if self.enabled and self.last >= 0:
            self.out.write("\n")
            self.out.flush()


def _summary(res: IngestResult) -> str:
    head = {"loaded": "LOADED", "duplicate": "UNCHANGED", "refused": "REFUSED", "staged": "CHECKED"}[res.status]
    lines = [f"{head}  {res.file}"]
    if res.status in ("loaded", "staged"):
        lines.append(f"  {res.kind} → {res.target_table}: {res.rows_read} rows read, {res.rows_loaded} loaded, "
                     f"{res.rows_quarantined} quarantined ({res.seconds:.1f} s)")
    lines += [f"  {m}" for m in res.messages]
    lines += [f"  warning: {w}" for w in res.warnings]
    if res.rows_quarantined:
        lines += [f"  quarantined: {p}" for p in res.problems[:5]]
    return "\n".join(lines)


def _as_json(res: IngestResult) -> str:
    keep: dict[str, Any] = {k: getattr(res, k) for k in (
        "file", "status", "batch_id", "kind", "target_table", "content_hash", "rows_read", "rows_loaded",
        "rows_quarantined", "replaced", "messages", "warnings", "problems")}
    keep["seconds"] = round(res.seconds, 3)
    return json.dumps(keep)


def run(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {}
    if args.encoding:
        options["encoding"] = args.encoding
    limits = Limits(memory_mb=args.memory_mb, seconds=args.timeout)
    con = store.connect(resolve_db(args.db))
    counts = {"loaded": 0, "duplicate": 0, "refused": 0, "staged": 0}
    kind = args.source
    try:
        if args.mapping:
            from engine.ingest.mapping_profiles import ingest_options  # noqa: PLC0415 - only mapped imports need it

            try:
                options.update(ingest_options(con, args.mapping))
            except KeyError as exc:
                print(f"REFUSED  {exc.args[0]}", file=sys.stderr)
                return 2
            kind = kind or "generic"
        for p in args.paths:
            bar = TextProgress(sys.stderr, enabled=(args.progress or sys.stderr.isatty()) and not args.json)
            res = ingest_file(con, Path(p), kind=kind, options=options, user=args.user, limits=limits,
                              progress=bar, dry_run=args.dry_run)
            bar.done()
            counts[res.status] += 1
            print(_as_json(res) if args.json else _summary(res), flush=True)
    finally:
        con.close()
    if not args.json:
        print(f"{len(args.paths)} file(s): {counts['loaded']} loaded, {counts['duplicate']} unchanged, "
              f"{counts['refused']} refused" + (f", {counts['staged']} checked" if counts["staged"] else ""))
    return 1 if counts["refused"] else 0
