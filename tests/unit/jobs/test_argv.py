"""A command line sent to the app: paths absolute against the client's folder, `--db` explicit."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.jobs.argv import absolute


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    ingest = sub.add_parser("ingest")
    ingest.add_argument("--db")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument("--source")
    ingest.add_argument("--json", action="store_true")
    journal = sub.add_parser("journal")
    journal.add_argument("--db")
    journal.add_argument("--out")
    journal.add_argument("--period")
    return parser


def test_paths_become_absolute_and_db_is_named(tmp_path: Path) -> None:
    parser, db = _parser(), tmp_path / "store" / "app.duckdb"
    argv = ["ingest", "--json", "--source", "focus", "bills/sep.csv", "/abs/oct.csv"]
    args = parser.parse_args(argv)
    assert absolute(argv, parser, args, tmp_path, db) == [
        "ingest", "--db", str(db), "--json", "--source", "focus", str(tmp_path / "bills" / "sep.csv"), "/abs/oct.csv"]

    argv = ["journal", "--db=rel.duckdb", "--out=out/j.csv", "--period", "2024-09"]
    args = parser.parse_args(argv)
    assert absolute(argv, parser, args, tmp_path, db) == [
        "journal", f"--db={db}", f"--out={tmp_path / 'out' / 'j.csv'}", "--period", "2024-09"]
