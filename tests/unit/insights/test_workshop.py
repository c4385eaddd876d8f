"""The workshop's live path: what the sliders produce equals what the cost models and the allocation say."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl

from engine.allocation import whatif
from engine.insights import workshop
from engine.insights.workshop import WorkshopParams

PERIOD = "2026-10"


def _prep(con: duckdb.DuckDBPyConnection) -> whatif.Prepared:
    return whatif.prepare(con, PERIOD, "demo_default")


def _month(con: duckdb.DuckDBPyConnection) -> Decimal:
    return con.execute("SELECT sum(effective_cost)::DECIMAL(18, 2) FROM cost_line WHERE billing_period = ?",
                       [PERIOD]).fetchall()[0][0]


def test_full_recovery_charges_the_whole_month(demo_con: duckdb.DuckDBPyConnection) -> None:
    prep = _prep(demo_con)
    out = workshop.charges(prep, workshop.baseline_params(prep))
    assert Decimal(out["charge"].sum()) == _month(demo_con)
    assert Decimal(out["allocated"].sum()) == Decimal(whatif.evaluate(prep)["amount"].sum())


def test_weights_move_units_not_the_total(demo_con: duckdb.DuckDBPyConnection) -> None:
    prep = _prep(demo_con)
    base = workshop.charges(prep, workshop.baseline_params(prep))
    moved = workshop.charges(prep, WorkshopParams(weights={"it_overhead": {"headcount": 0.1, "revenue": 0.9}}))
    both = workshop.against(moved, base)
    assert Decimal(both["delta"].sum()) == 0
    assert both.filter(pl.col("delta") != 0).height >= 2


def test_subsidy_markup_and_penalty_are_their_own_lines(demo_con: duckdb.DuckDBPyConnection) -> None:
    prep = _prep(demo_con)
    allocated = workshop.allocated_rows(prep, None)
    security = Decimal(allocated.filter((pl.col("source_pool") == "security")
                                        & (pl.col("target_id") != "UNALLOCATED"))["posted_amount"].sum())
    idle_base = Decimal(workshop.idle_base(allocated)["idle_cost"].sum())
    p = WorkshopParams(subsidy_pct=30, subsidy_pools=("security",), markup_pct=5, idle_penalty_pct=10)
    out = workshop.charges(prep, p)
    subsidy, markup, penalty = (Decimal(out[c].sum()) for c in ("subsidy", "markup", "penalty"))
    assert abs(subsidy - security * Decimal("0.30")) <= Decimal("0.01")
    assert abs(penalty - idle_base * Decimal("0.10")) <= Decimal("0.01")
    assert markup > 0
    # charge + subsidy − markup − penalty = allocated, to the cent
    assert Decimal(out["charge"].sum()) + subsidy - markup - penalty == Decimal(out["allocated"].sum())


def test_showback_ignores_chargeback_sliders(demo_con: duckdb.DuckDBPyConnection) -> None:
    prep = _prep(demo_con)
    p = WorkshopParams(chargeback=False, subsidy_pct=50, subsidy_pools=("security",), markup_pct=10)
    assert p.scenario().model == "showback"
    out = workshop.charges(prep, p)
    assert (out["charge"] == out["allocated"]).all()
