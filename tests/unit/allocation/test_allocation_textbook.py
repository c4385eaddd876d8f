"""The public textbook example (service departments HR, DP, RM → Machining, Assembly), through real runs."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine.allocation import whatif
from engine.allocation.runs import run_allocation
from tests.unit.allocation_data import PERIOD, posted_by_target, textbook, textbook_lines


@pytest.mark.parametrize(
    ("mode", "group", "machining", "assembly"),
    [
        ("step_down", "services", "107276.42", "132723.58"),  # reciprocal
        ("step_down", None, "105521.74", "134478.26"),  # step-down in the order HR, DP, RM
        ("direct", None, "108067.23", "131932.77"),  # direct: service-to-service flows ignored
    ],
    ids=["reciprocal", "step_down", "direct"],
)
def test_textbook_numbers(con: duckdb.DuckDBPyConnection, mode: str, group: str | None, machining: str,
                          assembly: str) -> None:
    textbook_lines(con)
    summary = run_allocation(con, PERIOD, textbook(mode, group))
    assert posted_by_target(con, summary.run_key) == {"Machining": Decimal(machining), "Assembly": Decimal(assembly)}
    assert summary.total_out == Decimal("240000.00") and summary.unallocated == 0
    # the what-if path gives the same cents
    frame = whatif.evaluate(whatif.prepare(con, PERIOD, textbook(mode, group)))
    assert dict(zip(frame["cost_center_id"], frame["amount"], strict=True)) == {
        "Assembly": Decimal(assembly), "Machining": Decimal(machining)}


def test_reciprocal_rows_explain_each_department(con: duckdb.DuckDBPyConnection) -> None:
    """Each department posts its reciprocal total (HR 91,057 · DP 138,211 · RM 58,780.5) times its own shares."""
    textbook_lines(con)
    key = run_allocation(con, PERIOD, textbook(group="services")).run_key
    by_step = dict(con.sql("SELECT step_name, sum(amount) FROM allocation_result WHERE run_key = ? GROUP BY 1",
                           params=[key]).fetchall())
    assert round(by_step["HR"] / Decimal("0.70")) == 91_057  # HR keeps 70 % for the production departments
    assert round(by_step["DP"] / Decimal("0.85")) == 138_211
    assert round(by_step["RM"], 1) == Decimal("58780.5")


def test_step_down_follows_the_given_order(con: duckdb.DuckDBPyConnection) -> None:
    """HR closes first: DP's 8 % back to HR is dropped and DP's other shares renormalised (7/92, 30/92, 55/92)."""
    textbook_lines(con)
    key = run_allocation(con, PERIOD, textbook()).run_key
    rows = con.sql("SELECT step_name, target_id, amount FROM allocation_result WHERE run_key = ?"
                   " AND source_pool = 'dp' ORDER BY 1, 2", params=[key]).fetchall()
    dp_machining = next(a for s, t, a in rows if s == "DP" and t == "Machining")
    assert dp_machining.quantize(Decimal("0.01")) == Decimal("39130.43")  # 120,000 × 30/92
