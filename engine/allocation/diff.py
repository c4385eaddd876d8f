"""Compare two runs per target: how much moved, and which steps moved it (the first question after a spike)."""

from __future__ import annotations

import duckdb
import polars as pl

from engine.allocation import run_org
from engine.store.sql import query

_SQL = """
WITH a AS (
    SELECT coalesce(cost_center_id, target_id) AS target, step, step_name, sum(posted_amount) AS amt
    FROM allocation_result WHERE run_key = ? GROUP BY ALL),
b AS (
    SELECT coalesce(cost_center_id, target_id) AS target, step, step_name, sum(posted_amount) AS amt
    FROM allocation_result WHERE run_key = ? GROUP BY ALL)
SELECT coalesce(a.target, b.target) AS target, coalesce(a.step, b.step) AS step,
       coalesce(b.step_name, a.step_name) AS step_name,
       coalesce(a.amt, 0)::DECIMAL(18, 2) AS amount_a, coalesce(b.amt, 0)::DECIMAL(18, 2) AS amount_b
FROM a FULL OUTER JOIN b ON a.target = b.target AND a.step = b.step AND a.step_name = b.step_name
"""


def diff_runs(con: duckdb.DuckDBPyConnection, run_a: str, run_b: str) -> pl.DataFrame:
    """One row per cost centre (or other final target): amount_a, amount_b, delta and `causes`, the steps with a
    non-zero delta, largest first ("Network: +1,200.00; Backup: -15.00"). Sorted by the size of the change."""
    per_step = query(con, _SQL, [run_a, run_b]).with_columns(
        (pl.col("amount_b") - pl.col("amount_a")).alias("delta")
    )
    causes = (
        per_step.filter(pl.col("delta") != 0)
        .sort(["target", pl.col("delta").abs(), "step"], descending=[False, True, False])
        .group_by("target", maintain_order=True)
        .agg(pl.format("{}: {}", pl.col("step_name"), pl.col("delta").cast(pl.String)).str.join("; ").alias("causes"))
    )
    totals = per_step.group_by("target").agg(pl.col("amount_a").sum(), pl.col("amount_b").sum(), pl.col("delta").sum())
    return (
        totals.join(causes, on="target", how="left")
        .with_columns(pl.col("causes").fill_null(""))
        .sort([pl.col("delta").abs(), "target"], descending=[True, False])
    )


def input_changes(con: duckdb.DuckDBPyConnection, run_a: str, run_b: str) -> list[str]:
    """What differs between the inputs of two runs, one sentence each: rule version, basis, parameters, and the
    master data they were posted with (engine/allocation/run_org.py). Empty when nothing recorded differs."""
    rows = {str(k): (str(rs), int(v), str(b), str(p or "{}")) for k, rs, v, b, p in con.execute(
        "SELECT run_key, rule_set, rule_version, basis, params FROM allocation_run WHERE run_key IN (?, ?)",
        [run_a, run_b]).fetchall()}
    out: list[str] = []
    if run_a in rows and run_b in rows:
        (rs_a, v_a, b_a, p_a), (rs_b, v_b, b_b, p_b) = rows[run_a], rows[run_b]
        if (rs_a, v_a) != (rs_b, v_b):
            out.append(f"Rule set {rs_a} v{v_a} → {rs_b} v{v_b}")
        if b_a != b_b:
            out.append(f"Cost basis {b_a} → {b_b}")
        if p_a != p_b:
            out.append(f"Parameters {p_a} → {p_b}")
    return out + run_org.moves(con, run_a, run_b)
