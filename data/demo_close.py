"""Make the demo organisation look like a live one: the default rule set approved (by two people, audited) and
the demo months closed with it, so dashboards, statements and scenarios have posted runs to read.

`python -m data.demo_close [--db PATH] [--months N]` closes the last N months (all by default); months already
posted with the current approved version are skipped, so `make run` can call it every time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

from engine import store
from engine.allocation.runs import run_allocation
from engine.insights.anomalies.jobs import detect_periods
from engine.rules import versions
from engine.rules.model import load

DEMO_RULESET = Path(__file__).resolve().parents[1] / "engine" / "rules" / "rulesets" / "demo_default.yaml"
AUTHOR, APPROVER = "fiona", "admin"


def ensure_rule_set(con: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    """The approved demo rule set's (name, version); published once, effective from the first demo month."""
    rs = load(DEMO_RULESET)
    existing = [v for v in versions.list_versions(con, rs.name) if v.status == "approved"]
    if existing:
        return rs.name, max(v.version for v in existing)
    first = con.execute("SELECT min(billing_period) FROM cost_line").fetchall()[0][0]
    version = versions.publish(con, rs, AUTHOR, APPROVER, "Demo organisation default allocation", first)
    return rs.name, version


def close_months(con: duckdb.DuckDBPyConnection, months: int | None = None, actor: str = AUTHOR) -> list[str]:
    """Post the last `months` periods (all when None) that have no posted run yet; returns the periods closed."""
    name, _ = ensure_rule_set(con)
    every = [r[0] for r in con.execute("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall()]
    periods = every[-months:] if months is not None else every
    posted = {r[0] for r in con.execute(
        "SELECT DISTINCT period FROM allocation_run WHERE status = 'posted' AND rule_set = ?", [name]).fetchall()}
    closed = []
    for period in periods:
        if period in posted:
            continue
        run_allocation(con, period, name, actor=actor)
        closed.append(period)
    detect_periods(con, every, actor)  # every demo month's anomalies persisted, so the demo shows them
    return closed


def main(argv: list[str] | None = None) -> int:
    from engine.settings import get_settings

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", default=None)
    ap.add_argument("--months", type=int, default=None)
    args = ap.parse_args(argv)
    con = store.connect(args.db or get_settings().db_path)
    if not con.execute("SELECT count(*) FROM cost_line").fetchall()[0][0]:
        print("No cost lines: nothing to close.")
        return 0
    started = time.perf_counter()
    closed = close_months(con, args.months)
    print(f"Closed {len(closed)} month(s) with the demo rule set in {time.perf_counter() - started:.1f} s"
          + (f": {', '.join(closed)}" if closed else " (all already posted)."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
