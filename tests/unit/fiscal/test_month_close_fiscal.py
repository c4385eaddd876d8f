"""Month close follows a 4-4-5 calendar: the slot 2026-01 takes the lines charged 29 Dec 2025 – 25 Jan 2026."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine.allocation.runs import run_allocation

CENT = Decimal("0.01")


def _sum(con: duckdb.DuckDBPyConnection, where: str, params: list[object]) -> Decimal:
    return Decimal(con.execute(f"SELECT sum(effective_cost) FROM cost_line WHERE {where}", params).fetchall()[0][0])


def test_four_four_five_month_close_takes_the_periods_weeks(demo_con: duckdb.DuckDBPyConnection,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calendar_run = run_allocation(demo_con, "2026-01", "demo_default", actor="fiona")
    assert calendar_run.total_in == _sum(demo_con, "billing_period = ?", ["2026-01"])
    monkeypatch.setenv("APPORTION_FISCAL_PERIOD_SCHEME", "4-4-5")
    p01 = run_allocation(demo_con, "2026-01", "demo_default", actor="fiona")   # FY2026-P01
    weeks = _sum(demo_con, "charge_period_start >= DATE '2025-12-29' AND charge_period_start < DATE '2026-01-26'", [])
    assert p01.total_in == weeks != calendar_run.total_in
    december_tail = _sum(demo_con, "billing_period = '2025-12' AND charge_period_start >= DATE '2025-12-29'", [])
    assert december_tail > 0    # December lines the fiscal January carries
    assert p01.total_out == weeks.quantize(CENT)                     # conserved to the cent
    posted = demo_con.execute("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ?",
                              [p01.run_key]).fetchall()[0][0]
    assert posted == weeks.quantize(CENT)
    # FY2025-P12 (slot 2025-12) ends the day before: together the two periods hold every line once
    p12 = run_allocation(demo_con, "2025-12", "demo_default", actor="fiona")
    both = _sum(demo_con, "charge_period_start >= DATE '2025-11-24' AND charge_period_start < DATE '2026-01-26'", [])
    assert p12.total_in + p01.total_in == both
