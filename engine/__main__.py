"""`python -m engine COMMAND ...`: the headless entry for scheduled jobs.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
the database path comes from `--db` or APPORTION_DB_PATH (engine/settings.py).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from engine.errors import ApportionError

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
    "fx": ("engine.cli.fx", "load, list or enter the monthly FX rates into the reporting currency"),
    "mapping": ("engine.cli.mapping", "save, list and show column mapping profiles (YAML, versioned)"),
}


def main(argv: list[str] | None = None) -> int:
    from engine.cli import exits  # noqa: PLC0415 - exit codes and version: docs/cli.md
    from engine.cli.version import version  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m engine", description="Apportion headless jobs",
                                     epilog=exits.EPILOG)
    parser.add_argument("--version", action="version", version=f"apportion {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=exits.EPILOG)
        p.add_argument("--db", default=None, help="DuckDB file (default: APPORTION_DB_PATH or data/apportion.duckdb)")
        p.add_argument("--wait", type=float, default=None, metavar="SECONDS",  # engine/cli/__init__.py: run_command
                       help="how long to wait for a store another process holds, or for the app to take the job "
                       "(default: cli_wait_seconds, 30)")
        module.add_arguments(p)
        modules[name] = module
    args = parser.parse_args(argv)
    from engine.cli import run_command  # noqa: PLC0415 - routes the command to the app when it holds the store

    try:
        return run_command(modules[args.command].run, args, parser, argv)
    except ApportionError as exc:   # a user's error never ends in a traceback: one line, the documented code
        code = exits.code_for(exc)
        if getattr(args, "json", False):
            print(json.dumps({"summary": {"command": args.command, "exit": code, "error": str(exc)}}))
        else:
            print(f"{args.command}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
