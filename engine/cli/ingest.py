"""`python -m engine ingest PATH... [--source KIND] [--mapping NAME] [--replace]`: the headless import for scheduled
jobs.

A tqdm progress bar per file (stderr, only on a terminal unless --progress, never with --json) showing the phase,
rows and elapsed seconds; a summary per file and a total. A billing file that would replace loaded months is not
loaded without `--replace` (it is refused, naming the batch, months, rows and amounts). `--json`: one JSON object per
file on stdout, then `{"summary": {...}}` — always, also for refusals and a store that cannot be opened.
Exit codes as every command (docs/cli.md): 0 loaded/checked/unchanged, 1 a file refused or needing --replace,
2 usage (an unknown mapping, a store that cannot be opened).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from tqdm import tqdm

from engine.cli import exits, open_store
from engine.errors import ApportionError
from engine.ingest import registry
from engine.ingest.contract.safe_read import ENCODINGS
from engine.ingest.pipeline import IngestResult, ingest_file, quarantine_rows
from engine.ingest.sandbox import Limits

HEADS = {"loaded": "LOADED", "duplicate": "UNCHANGED", "refused": "REFUSED", "staged": "CHECKED",
         "needs_confirmation": "NOT LOADED (needs --replace)"}
EXPECTED_GOT = re.compile(r"^expected (?P<expected>.*), got (?P<got>.*)$", re.DOTALL)
PROBLEMS_SHOWN = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files to load")
    parser.add_argument("--source", default=None, choices=registry.kinds(), metavar="KIND",
                        help="connector to use instead of detecting it: " + ", ".join(registry.kinds()))
    parser.add_argument("--mapping", default=None, metavar="NAME", help="saved column mapping profile to apply")
    parser.add_argument("--encoding", default=None, type=str.lower, choices=sorted(ENCODINGS),
                        help="text encoding when not UTF-8 (latin-1, utf-16)")
    parser.add_argument("--user", default="cli", help="recorded as the loader of each batch")
    parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
    parser.add_argument("--replace", action="store_true",
                        help="confirm replacing billing months already loaded (without it such a file is refused; "
                        "the replaced rows are kept and come back if the new batch is rolled back)")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="parser memory budget per file")
    parser.add_argument("--timeout", type=float, default=Limits.seconds, help="parser time budget per file (s)")
    parser.add_argument("--progress", action="store_true", help="draw the progress bar even when not a terminal")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per file and a final {\"summary\": …} instead of text")


class Progress:
    """The pipeline's `progress(frac, message)` as a tqdm bar on stderr: percent, the phase (which names the rows,
    and the seconds while the load runs) and the elapsed time."""

    def __init__(self, enabled: bool) -> None:
        self.bar: tqdm[Any] | None = (
            tqdm(total=100, file=sys.stderr, leave=True, dynamic_ncols=True, mininterval=0.2,
                 bar_format="{percentage:3.0f}%|{bar:20}| {desc} [{elapsed}]") if enabled else None)

    def __call__(self, frac: float, message: str) -> None:
        if self.bar is None:
            return
        pct = int(max(0.0, min(1.0, frac)) * 100)
        if pct > self.bar.n:
            self.bar.update(pct - self.bar.n)
        self.bar.set_description_str(message[:70], refresh=True)

    def done(self) -> None:
        if self.bar is not None:
            self.bar.close()


def problems(con: duckdb.DuckDBPyConnection | None, res: IngestResult) -> list[dict[str, Any]]:
    """The first problems of a file as fields {file, row, column, expected, got, reason}: the refusal itself, or the
    first quarantined rows (stored for a load, previewed for a dry run)."""
    if res.refusal is not None:
        return [{"file": res.file, "row": res.refusal.get("row"), "column": res.refusal.get("column"),
                 "expected": res.refusal.get("expected"), "got": None, "reason": "; ".join(res.messages)}]
    rows: pl.DataFrame | None = None
    if res.status == "loaded" and res.batch_id and res.rows_quarantined and con is not None:
        rows = quarantine_rows(con, res.batch_id)
    elif res.status == "staged":
        rows = res.quarantine_preview
    out: list[dict[str, Any]] = []
    for r in ([] if rows is None else rows.head(PROBLEMS_SHOWN).to_dicts()):
        reason = str(r.get("reason") or "")
        m = EXPECTED_GOT.match(reason)
        out.append({"file": res.file, "row": r.get("row_number"), "column": r.get("column_name"),
                    "expected": m["expected"] if m else None, "got": m["got"] if m else None, "reason": reason})
    return out


def _summary(res: IngestResult) -> str:
    lines = [f"{HEADS[res.status]}  {res.file}"]
    if res.status == "loaded":
        lines.append(f"  {res.kind} → {res.target_table}: {res.rows_read} rows read, {res.rows_loaded} loaded, "
                     f"{res.rows_quarantined} quarantined ({res.seconds:.1f} s)")
    elif res.status == "staged":
        lines.append(f"  {res.kind} → {res.target_table}: checked {res.rows_read} rows, would load "
                     f"{res.rows_loaded}, would quarantine {res.rows_quarantined} ({res.seconds:.1f} s)")
    lines += [f"  {m}" for m in res.messages]
    lines += [f"  warning: {w}" for w in res.warnings]
    if res.status == "needs_confirmation":
        lines.append("  to replace them, run again with --replace (the replaced rows are kept: `rollback` of the new "
                     "batch on the Ingest page restores them)")
    if res.rows_quarantined:
        lines += [f"  quarantined: {p}" for p in res.problems[:PROBLEMS_SHOWN]]
    return "\n".join(lines)


def _as_json(con: duckdb.DuckDBPyConnection | None, res: IngestResult) -> str:
    keep: dict[str, Any] = {k: getattr(res, k) for k in (
        "file", "status", "batch_id", "kind", "target_table", "content_hash", "rows_read", "rows_loaded",
        "rows_quarantined", "replaced", "messages", "warnings")}
    keep["problems"] = problems(con, res)
    keep["pending"] = [r.as_dict() for r in res.pending]
    keep["seconds"] = round(res.seconds, 3)
    return json.dumps(keep)


def _total(args: argparse.Namespace, counts: dict[str, int], code: int, error: str | None = None) -> None:
    if args.json:
        summary: dict[str, Any] = {"files": len(args.paths), "loaded": counts["loaded"],
                                   "unchanged": counts["duplicate"], "refused": counts["refused"],
                                   "checked": counts["staged"], "needs_replace": counts["needs_confirmation"],
                                   "exit": code}
        if error is not None:
            summary["error"] = error
        print(json.dumps({"summary": summary}), flush=True)
    elif error is None:
        print(f"{len(args.paths)} file(s): {counts['loaded']} loaded, {counts['duplicate']} unchanged, "
              f"{counts['refused']} refused"
              + (f", {counts['needs_confirmation']} need --replace" if counts["needs_confirmation"] else "")
              + (f", {counts['staged']} checked" if counts["staged"] else ""))


def _open(args: argparse.Namespace) -> tuple[duckdb.DuckDBPyConnection | None, str]:
    """open_store (a new store may be created in an existing folder), its stderr line kept for --json."""
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        con = open_store(args.db, create=True)
    text = said.getvalue().strip()
    if text and not args.json:
        print(text, file=sys.stderr)
    return con, text


def run(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {}
    if args.encoding:
        options["encoding"] = args.encoding
    limits = Limits(memory_mb=args.memory_mb, seconds=args.timeout)
    counts = {s: 0 for s in HEADS}
    con, said = _open(args)
    if con is None:
        _total(args, counts, exits.USAGE, said or "the store cannot be opened")
        return exits.USAGE
    kind = args.source
    try:
        if args.mapping:
            from engine.ingest.mapping_profiles import ingest_options  # noqa: PLC0415 - only mapped imports need it

            try:
                options.update(ingest_options(con, args.mapping))
            except (KeyError, ApportionError) as exc:
                text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
                if not args.json:
                    print(f"REFUSED  {text}", file=sys.stderr)
                _total(args, counts, exits.USAGE, text)
                return exits.USAGE
            kind = kind or "generic"
        for p in args.paths:
            bar = Progress(enabled=(args.progress or sys.stderr.isatty()) and not args.json)
            try:
                res = ingest_file(con, Path(p), kind=kind, options=options, user=args.user, limits=limits,
                                  progress=bar, dry_run=args.dry_run, replace=args.replace)
            finally:
                bar.done()
            counts[res.status] += 1
            print(_as_json(con, res) if args.json else _summary(res), flush=True)
        code = exits.REFUSED if counts["refused"] or counts["needs_confirmation"] else exits.OK
        _total(args, counts, code)
        return code
    finally:
        con.close()
