"""`python -m engine COMMAND ...`: the headless entry for scheduled jobs.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
the database path comes from `--db` or APPORTION_DB_PATH (engine/settings.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("engine.cli.ingest", "load exports and inventories into the store"),
    "allocate": ("engine.cli.allocate", "run a month-close allocation"),
    "audit": ("engine.cli.audit", "verify the audit trail, or export it with a verification summary"),
    "methodology": ("engine.cli.methodology", "write the allocation methodology of the rule version in force"),
    "masterdata": ("engine.cli.masterdata", "apply or revert effective-dated ownership changes"),
    "explain": ("engine.cli.explain", "explain a posted charge to the cent (cells, chains, rounding)"),
    "provision": ("engine.cli.provision", "check a provisioning request against quota and budget"),
    "journal": ("engine.cli.journal", "write a posted run's ERP journal (SAP FI, Oracle GL_INTERFACE, CSV)"),
    "export-focus": ("engine.cli.export_focus", "write a posted run's allocated cost as FOCUS 1.0 rows"),
    "sources": ("engine.cli.sources", "list live sources, or run them (one, the due ones, or all)"),
    "backup": ("engine.cli.backup", "export the whole store to a folder, with per-table checksums"),
    "restore": ("engine.cli.backup", "replace the store with a backup folder, verified table by table"),
    "export-lines": ("engine.cli.export_lines", "write the tables a month close reads as Parquet (for --engine spark)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Apportion headless jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--db", default=None, help="DuckDB file (default: APPORTION_DB_PATH or data/apportion.duckdb)")
        module.add_arguments(p)
        modules[name] = module
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
