"""Deterministic demo organisation: `generate(con)` fills an empty migrated store; `python -m data.generate` runs it.

Same seed and parameters give byte-identical table contents (fixed timestamps, seeded randomness, fixed bcrypt
salts). Cost lines are generated set-based in DuckDB (see data/demo_billing.py). The ids are documented in
docs/demo-data.md.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from data import demo_billing as billing
from data import demo_discovery as discovery
from data import demo_inventory as inventory
from data import demo_org as org
from engine import store
from engine.store import rollup

DEMO_LOGINS: dict[str, tuple[str, str]] = {u: (pw, role) for u, pw, role, _ in org.DEMO_USERS}
MIN_LINES = 5_000
TABLES = ["org_unit", "application", "app_user", "user_scope", "account_owner", "ingest_batch", "cost_line",
          "asset", "licence_entitlement", "licence_assignment", "driver_value", "budget"]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    # Columns added by later migrations are filled when present, skipped when not.
    frame = frame.select([c for c in frame.columns if c in _columns(con, table)])
    con.register("_demo_frame", frame)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _demo_frame")
    con.unregister("_demo_frame")


def _content_hash(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def generate(con: duckdb.DuckDBPyConnection, *, seed: int = 42, lines: int = 200_000, end_period: str = "2026-10",
             months: int = 12) -> dict[str, int]:
    """Fill an empty migrated store with the demo organisation; returns row counts per table written."""
    if lines < MIN_LINES:
        raise ValueError(f"lines must be at least {MIN_LINES}, got {lines}")
    if months < 11:
        raise ValueError("months must be at least 11 (the injected spikes sit in months 8, 10 and 11)")
    existing = con.execute("SELECT count(*) FROM cost_line").fetchall()[0][0]
    if existing:
        raise ValueError(f"the store already holds {existing} cost lines; generate() fills an empty store only")

    rng = random.Random(seed)
    periods = billing.period_labels(end_period, months)
    as_of = billing.period_bounds(periods[-1])[1]
    staff = org.employees(rng)
    apps = org.applications(rng, staff)
    accts = org.accounts()
    usage_lines = lines - billing.extra_line_count(accts, months)
    n_res = max(200, min(6_000, usage_lines // (months * 5)))
    resources = billing.build_resources(rng, apps, accts, n_res)

    staff_by_user = {u: cc for u, _, cc in staff}
    org_rows = [{"unit_id": b, "name": n, "kind": "business_unit", "parent_id": None, "manager": m}
                for b, n, m in org.BUSINESS_UNITS]
    for cc, name, bu in org.COST_CENTERS:
        managers = [u for u, c in staff_by_user.items() if c == cc]
        org_rows.append({"unit_id": cc, "name": name, "kind": "cost_center", "parent_id": bu,
                         "manager": managers[0] if managers else None})
    app_rows = [{"app_id": a.app_id, "name": a.name, "owner": a.owner, "cost_center_id": a.cost_center_id,
                 "tier": a.tier, "sla": a.sla} for a in apps]
    # bcrypt releases the GIL: hash the demo passwords (~0.3 s each) while DuckDB writes the lines.
    pool = ThreadPoolExecutor(max_workers=1)
    hashes = pool.map(lambda user: org.password_hash(user[0], user[1]), org.DEMO_USERS)
    scope = [{"username": org.OWNER_USER, "cost_center_id": cc} for cc in org.OWNER_COST_CENTERS]
    owners = [{"provider": a.provider, "sub_account_id": a.sub_account_id, "cost_center_id": a.cost_center_id,
               "app_id": a.app_id} for a in accts]
    owners += [{"provider": p, "sub_account_id": v["billing_account"], "cost_center_id": "CC040", "app_id": None}
               for p, v in org.PROVIDERS.items()]

    loaded_at = {p: datetime.combine(billing.period_bounds(p)[1], datetime.min.time()).replace(hour=6)
                 for p in periods}
    batch_ids = {p: f"demo-billing-{p}" for p in periods}
    batches: list[dict[str, object]] = []
    for p in periods:
        batches.append({"batch_id": batch_ids[p], "source_kind": "demo", "file_name": f"demo-focus-{p}.parquet",
                        "content_hash": _content_hash("demo", seed, lines, "billing", p), "target_table": "cost_line",
                        "billing_period": p, "loaded_by": "demo-generator", "loaded_at": loaded_at[p],
                        "note": "Generated demo billing (FOCUS-shaped)"})
        batches.append({"batch_id": f"demo-drivers-{p}", "source_kind": "demo", "file_name": f"demo-drivers-{p}.csv",
                        "content_hash": _content_hash("demo", seed, "drivers", p), "target_table": "driver_value",
                        "billing_period": p, "loaded_by": "demo-generator", "loaded_at": loaded_at[p],
                        "note": "Generated demo drivers"})
    for name, table, note in (("assets", "asset", "Generated demo asset register (ServiceNow alm_hardware records)"),
                              ("licences", "licence_assignment", "Generated demo licences")):
        batches.append({"batch_id": f"demo-{name}", "source_kind": "demo", "file_name": f"demo-{name}.csv",
                        "content_hash": _content_hash("demo", seed, name), "target_table": table,
                        "billing_period": None, "loaded_by": "demo-generator", "loaded_at": loaded_at[periods[-1]],
                        "note": note})
    invoice_of: dict[tuple[str, str], str] = {}
    for sub, prov in [(a.sub_account_id, a.provider) for a in accts] + [
            (v["billing_account"], p) for p, v in org.PROVIDERS.items()]:
        for p in periods:
            code = org.PROVIDERS[prov]["code"]
            invoice_of[(sub, p)] = f"{code}-{p.replace('-', '')}-{org.stable_hex(sub, p, n=8).upper()}"
    invoices = pl.DataFrame([{"sub_account_id": s, "billing_period": p, "invoice_id": i}
                             for (s, p), i in invoice_of.items()])
    asset_df = inventory.assets(rng, staff, apps, as_of)
    ent_df, seat_df = inventory.licences(rng, staff, as_of)
    driver_df = inventory.drivers(rng, staff, apps, periods)

    with store.transaction(con):
        _insert(con, "org_unit", pl.DataFrame(org_rows))
        _insert(con, "application", pl.DataFrame(app_rows))
        _insert(con, "user_scope", pl.DataFrame(scope))
        _insert(con, "account_owner", pl.DataFrame(owners))
        _insert(con, "ingest_batch", pl.DataFrame(batches, infer_schema_length=None))
        billing.insert_lines(con, resources, periods, usage_lines, seed, batch_ids, invoices)
        billing.insert_extras(con, rng, accts, periods, batch_ids, invoice_of)
        _insert(con, "asset", asset_df)
        _insert(con, "licence_entitlement", ent_df)
        _insert(con, "licence_assignment", seat_df)
        _insert(con, "driver_value", driver_df)
        inventory.insert_budgets(con, periods, seed)
        users = [{"username": u, "display_name": d, "email": f"{u}@apportion.example", "role": role,
                  "password_hash": h} for (u, _, role, d), h in zip(org.DEMO_USERS, hashes, strict=True)]
        pool.shutdown()
        _insert(con, "app_user", pl.DataFrame(users))
        con.execute("""
            UPDATE ingest_batch b SET rows_read = n, rows_loaded = n FROM (
                SELECT batch_id, count(*) AS n FROM cost_line GROUP BY batch_id UNION ALL
                SELECT batch_id, count(*) FROM driver_value GROUP BY batch_id UNION ALL
                SELECT batch_id, count(*) FROM asset GROUP BY batch_id UNION ALL
                SELECT batch_id, count(*) FROM licence_assignment GROUP BY batch_id) c
            WHERE b.batch_id = c.batch_id""")
        scope_cols = {"batch_id", "provider", "billing_account_id", "billing_period", "rows_loaded", "billed_cost",
                      "effective_cost"}
        if scope_cols <= _columns(con, "ingest_batch_scope"):
            con.execute("""
                INSERT INTO ingest_batch_scope BY NAME
                SELECT batch_id, provider, billing_account_id, billing_period, count(*) AS rows_loaded,
                    sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost
                FROM cost_line GROUP BY ALL""")
        if "lines" in _columns(con, "line_rollup"):   # stores built before migration 0029 have none
            rollup.rebuild(con)
        con.execute("DROP TABLE IF EXISTS _demo_res")
        con.execute("DROP TABLE IF EXISTS _demo_inv")
    # discovery (SCCM, Jamf, AWS Config) as export files through the real ingest pipeline: real batches
    discovery.load(con, seed)
    return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in TABLES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.generate", description="Create the demo organisation.")
    parser.add_argument("--db", default=None, help="DuckDB file (default: APPORTION_DB_PATH or data/apportion.duckdb)")
    parser.add_argument("--lines", type=int, default=200_000, help="number of cost lines (default 200000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--end-period", default="2026-10", help="last billing period, YYYY-MM (default 2026-10)")
    parser.add_argument("--if-empty", action="store_true", help="do nothing when cost_line already has rows")
    args = parser.parse_args(argv)
    if args.db:
        db = Path(args.db)
    else:
        from engine.settings import get_settings

        db = get_settings().db_path
    started = time.perf_counter()
    con = store.connect(db)
    try:
        existing = con.execute("SELECT count(*) FROM cost_line").fetchall()[0][0]
        if existing:
            if args.if_empty:
                print(f"{db} already holds {existing:,} cost lines: demo data not generated (--if-empty).")
                return 0
            print(f"{db} already holds {existing:,} cost lines; use a fresh file or --if-empty.", file=sys.stderr)
            return 1
        counts = generate(con, seed=args.seed, lines=args.lines, end_period=args.end_period)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    elapsed = time.perf_counter() - started
    print(f"Demo organisation written to {db} (seed {args.seed}):")
    for table, n in counts.items():
        print(f"  {table:<20} {n:>12,}")
    print(f"Elapsed: {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
