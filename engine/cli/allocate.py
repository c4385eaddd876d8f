"""`python -m engine allocate`: the month-close job. Idempotent (same inputs → the same run, replaced);
exit codes as every command (docs/cli.md): 0 posted; 1 refused (bad rules, a period or data that cannot be posted;
nothing was posted); 2 usage (bad --out, --engine spark without --lines, no store at --db); 3 the run broke
conservation (nothing was posted).

`--engine spark --lines DIR [--master URL]` runs the cost-line aggregation on Spark over the Parquet tables in DIR
(written by `export-lines`, or a lakehouse folder holding the same tables); the cascade, rounding and posting run
here and post into the store as the DuckDB path does (docs/spark.md)."""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from engine.allocation.runs import run_allocation
from engine.cli import exits, open_store
from engine.errors import AllocationError, ApportionError

if TYPE_CHECKING:
    from engine.allocation.backends.base import PoolSource
from engine.rules.versions import VersionError

EXPORT_SQL = (
    "SELECT period, step, step_name, source_pool, method, driver, target_kind, target_id, cost_center_id, app_id,"
    " share, amount, posted_amount FROM allocation_result WHERE run_key = ?"
    " ORDER BY step, source_pool, target_kind, target_id, method, driver"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="month to allocate, YYYY-MM")
    parser.add_argument("--ruleset", required=True,
                        help="stored rule set NAME (approved version in force for the period) or a .yaml/.json FILE")
    parser.add_argument("--version", type=int, default=None, help="run this stored version instead of the as-of one")
    parser.add_argument("--basis", choices=["effective", "billed"], default="effective",
                        help="effective (amortised, default) or billed cost")
    parser.add_argument("--out", default=None, help="also write the posted rows to FILE.csv or FILE.parquet")
    parser.add_argument("--actor", default=None, help="who runs the job, for the audit trail (default: OS user)")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                        help="where the cost lines are aggregated: the store (duckdb, default) or Spark over --lines")
    parser.add_argument("--master", default="local[2]", help="Spark master URL for --engine spark (default local[2])")
    parser.add_argument("--lines", default=None,
                        help="folder of <table>.parquet (python -m engine export-lines) for --engine spark")


def _actor(arg: str | None) -> str:
    if arg:
        return arg
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - containers without a passwd entry
        return "cli"


def _source(args: argparse.Namespace, stack: ExitStack) -> PoolSource | None:
    """None: the store itself. Spark: a session for the run (stopped after it) over the Parquet tables."""
    if args.engine != "spark":
        return None
    from engine.allocation.backends import spark

    paths = spark.table_paths(Path(args.lines))   # refuse a folder lacking a table before starting Spark
    session = stack.enter_context(spark.spark_session(args.master))
    return spark.SparkPoolSource(session, paths)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        print(f"--out must end in .csv or .parquet, not {out.name!r}", file=sys.stderr)
        return exits.USAGE
    if args.engine == "spark" and not args.lines:
        print("--engine spark needs --lines DIR (write it with `python -m engine export-lines`)", file=sys.stderr)
        return exits.USAGE
    con = open_store(args.db)
    if con is None:
        return exits.USAGE
    try:
        try:
            with ExitStack() as stack:
                source = _source(args, stack)
                summary = run_allocation(con, args.period, args.ruleset, version=args.version, basis=args.basis,
                                         actor=_actor(args.actor), source=source)
        except AllocationError as exc:
            print(f"allocation FAILED, nothing posted: {exc}", file=sys.stderr)
            return exits.code_for(exc)   # 3 for a conservation failure
        except (VersionError, ValueError, FileNotFoundError, ApportionError) as exc:
            print(f"cannot allocate: {exc}", file=sys.stderr)
            return exits.code_for(exc) if isinstance(exc, ApportionError) else exits.REFUSED
        print(
            f"posted {summary.period} ({args.engine}) with {summary.rule_set} v{summary.rule_version}"
            f" ({summary.basis}): "
            f"in {summary.total_in:,.2f}, posted {summary.total_out:,.2f}, unallocated {summary.unallocated:,.2f}, "
            f"{summary.result_rows} rows from {summary.input_lines} lines in {summary.seconds:.2f}s"
            f"{' (replaced the earlier identical run)' if summary.replaced else ''}\nrun key {summary.run_key}"
        )
        if out is not None:
            frame = con.sql(EXPORT_SQL, params=[summary.run_key]).pl()
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix.lower() == ".csv":
                frame.write_csv(out)
            else:
                frame.write_parquet(out)
            print(f"wrote {frame.height} rows to {out}")
    finally:
        con.close()
    return exits.OK
