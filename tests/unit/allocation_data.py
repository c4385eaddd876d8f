"""Small builders for allocation tests: cost lines, drivers and org rows written straight into a store."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import duckdb

from engine.rules import model

PERIOD = "2026-01"


def add_lines(con: duckdb.DuckDBPyConnection, lines: Iterable[dict[str, object]], period: str = PERIOD) -> None:
    for ln in lines:
        row = {
            "billing_period": period, "charge_period_start": f"{period}-01", "charge_period_end": f"{period}-28",
            "provider": "aws", "billing_currency": "USD", "batch_id": "b1",
        } | dict(ln)
        row.setdefault("billed_cost", row.get("effective_cost", 0))
        row.setdefault("effective_cost", row["billed_cost"])
        cols = ", ".join(row)
        con.execute(f"INSERT INTO cost_line ({cols}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))


def add_org(con: duckdb.DuckDBPyConnection, units: dict[str, str | None], business_units: Iterable[str] = ()) -> None:
    for bu in business_units:
        con.execute("INSERT INTO org_unit VALUES (?, ?, 'business_unit', NULL, NULL)", [bu, bu])
    for cc, parent in units.items():
        con.execute("INSERT INTO org_unit VALUES (?, ?, 'cost_center', ?, NULL)", [cc, cc, parent])


def add_driver(con: duckdb.DuckDBPyConnection, driver: str, values: dict[str, float], kind: str = "cost_center",
               period: str = PERIOD) -> None:
    for target, qty in values.items():
        con.execute("INSERT INTO driver_value VALUES (?, ?, ?, ?, ?, 'd1')", [period, driver, kind, target, qty])


def posted_by_target(con: duckdb.DuckDBPyConnection, run_key: str) -> dict[str, Decimal]:
    rows = con.sql("SELECT target_id, sum(posted_amount) FROM allocation_result WHERE run_key = ? GROUP BY 1",
                   params=[run_key]).fetchall()
    return {t: Decimal(v) for t, v in rows}


def textbook(mode: str = "step_down", group: str | None = None) -> model.RuleSet:
    """HR 80,000, DP 120,000, RM 40,000 serving each other and two production departments."""
    def step(sid: str, split: dict[str, int]) -> dict[str, object]:
        return {"id": sid, "name": sid.upper(), "reciprocal_group": group,
                "source": {"filters": [{"field": "tag_cost_center", "value": sid.upper()}]},
                "method": {"kind": "fixed", "split": split}}

    return model.from_data({"name": "textbook", "mode": mode, "steps": [
        step("hr", {"step:dp": 20, "step:rm": 10, "Machining": 40, "Assembly": 30}),
        step("dp", {"step:hr": 8, "step:rm": 7, "Machining": 30, "Assembly": 55}),
        step("rm", {"Machining": 50, "Assembly": 50}),
    ]})


def textbook_lines(con: duckdb.DuckDBPyConnection) -> None:
    add_lines(con, [{"tag_cost_center": "HR", "effective_cost": 80_000},
                    {"tag_cost_center": "DP", "effective_cost": 120_000},
                    {"tag_cost_center": "RM", "effective_cost": 40_000}])
