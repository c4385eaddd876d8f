"""The executive overview's "Budget, forecast and actual" section shows the engine's figures for the demo month."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine import store
from engine.access import users
from engine.insights.forecast import budget
from engine.insights.forecast.projection import TOTAL
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")

PERIOD = "2026-10"          # the last demo month
AS_OF = date(2026, 10, 15)


def _engine_view(app_db: Path, username: str) -> budget.BudgetView:
    con = store.connect(app_db)
    try:
        return budget.view(con, users.get_user(con, username), PERIOD, AS_OF)
    finally:
        con.close()


def _table(at, column: str):  # noqa: ANN001, ANN202
    """The forecast table whose first column is `column` (business_unit: the units; cost_center: the detail)."""
    tables = [d.value for d in at.dataframe if "month_end_band" in d.value.columns
              and ("cost_center" in d.value.columns) == (column == "cost_center")]
    assert len(tables) == 1, [list(d.value.columns) for d in at.dataframe]
    return tables[0]


def test_the_executive_sees_budget_forecast_and_actual_per_business_unit(app_db: Path) -> None:
    at = page_as("overview", "eve").run()
    assert not at.exception
    assert "Budget, forecast and actual" in [s.value for s in at.subheader]
    assert "Open anomalies" in [s.value for s in at.subheader]     # the live panel is still there
    at.date_input(key=f"overview_as_of_{PERIOD}").set_value(AS_OF).run()
    assert not at.exception

    expected = _engine_view(app_db, "eve").by_business_unit.to_dicts()
    shown = _table(at, "business_unit").to_dict("records")
    assert [r["business_unit"] for r in shown] == [r["business_unit"] for r in expected]
    assert shown[-1]["business_unit"] == TOTAL and len(shown) == 7        # six demo units and the total
    for got, want in zip(shown, expected, strict=True):
        assert got["budget"] == pytest.approx(float(want["budget"]))
        assert got["to_date"] == pytest.approx(float(want["to_date"]))
        assert got["month_end"] == pytest.approx(want["month_end"])
        assert got["next_quarter"] == pytest.approx(want["next_quarter"])
        assert got["status"] == want["status"]
        assert got["variance_pct"] == pytest.approx(want["variance_pct"])
        assert got["mape"] == pytest.approx(round(want["mape"], 1))
        assert got["bias"] == pytest.approx(round(want["bias"], 1))
        assert got["month_end_band"].count("$") == 2
    # the actual to date adds up to the bill's first fifteen days; the total row is the sum of the units
    assert shown[-1]["to_date"] == pytest.approx(sum(r["to_date"] for r in shown[:-1]), abs=0.01)
    assert 0 < shown[-1]["mape"] < 10
    detail = _table(at, "cost_center")
    cc = _engine_view(app_db, "eve").by_cost_center
    assert detail["cost_center"].tolist() == cc["cost_center"].to_list()
    assert detail["month_end"].tolist() == pytest.approx(cc["month_end"].to_list())


def test_a_closed_month_reads_its_actual_as_the_month_end(app_db: Path) -> None:
    at = page_as("overview", "eve").run()
    at.date_input(key=f"overview_as_of_{PERIOD}").set_value(date(2026, 10, 31)).run()
    assert not at.exception
    shown = _table(at, "business_unit").to_dict("records")
    con = store.connect(app_db)
    try:
        bill = float(con.execute("SELECT sum(effective_cost) FROM cost_line WHERE billing_period = ?",
                                 [PERIOD]).fetchall()[0][0])
    finally:
        con.close()
    assert shown[-1]["to_date"] == pytest.approx(bill, abs=0.01)
    assert shown[-1]["month_end"] == pytest.approx(bill, abs=0.01)
    assert any("the month-end forecast is the actual" in c.value for c in at.caption)
