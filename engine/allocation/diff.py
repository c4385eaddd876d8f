"""Compare two runs per target: how much moved, and which steps moved it (the first question after a spike)."""

from __future__ import annotations

import duckdb
import polars as pl

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
