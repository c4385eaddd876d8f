"""Plan import: a valid CSV/XLSX loads per period and cost centre; a bad row names file, row, column and
expectation and nothing loads half-way; plan vs allocated actual per period."""

from __future__ import annotations

import io
from decimal import Decimal

import duckdb
import pytest
import xlsxwriter

from engine.access.users import get_user
from engine.allocation.runs import latest_run
from engine.errors import AccessDenied
from engine.fiscal import plan

PERIOD = "2026-10"


def _user(con: duckdb.DuckDBPyConnection, name: str):  # noqa: ANN202
    u = get_user(con, name)
    assert u is not None
    return u


def _plan(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, Decimal]]:
    return [(p, c, Decimal(a)) for p, c, a in con.execute(
        "SELECT period, cost_center_id, amount FROM plan_line ORDER BY 1, 2").fetchall()]


def test_a_bad_row_is_named_and_nothing_loads(demo_con: duckdb.DuckDBPyConnection) -> None:
    fiona = _user(demo_con, "fiona")
    good = b"period,cost_center_id,amount\n2026-10,CC001,1000.50\nFY2026-P11,CC002,250\n"
    loaded = plan.import_plan(demo_con, "fpa_q4.csv", good, fiona)
    assert (loaded.rows, loaded.total, loaded.periods) == (2, Decimal("1250.50"), ("2026-10", "2026-11"))
    before = _plan(demo_con)
    assert before == [("2026-10", "CC001", Decimal("1000.50")), ("2026-11", "CC002", Decimal("250.00"))]
    bad = (b"period,cost_center_id,amount,currency\n2026-10,CC001,999\n2026-10,CC003,12.345\n"
           b"2026-13,CC004,5\n2026-10,CC999,5\n2026-10,CC005,7,EUR\n")
    with pytest.raises(plan.PlanRejected) as err:
        plan.import_plan(demo_con, "fpa_v2.csv", bad, fiona)
    msg = str(err.value)
    assert msg.startswith("fpa_v2.csv: nothing was loaded")
    assert "row 3, column 'amount': a number with at most 2 decimals, got '12.345'" in msg
    assert "row 4, column 'period': YYYY-MM or FY<year>-P<01-12>, got '2026-13'" in msg
    assert "row 5, column 'cost_center_id': a known cost centre id, got 'CC999'" in msg
    assert "row 6, column 'currency': the reporting currency USD" in msg
    assert _plan(demo_con) == before          # row 2 was valid, and still nothing of the file loaded
    assert demo_con.execute("SELECT count(*) FROM plan_import").fetchall()[0][0] == 1
    assert demo_con.execute("SELECT count(*) FROM audit_event WHERE action = 'plan.import'").fetchall()[0][0] == 1


def test_duplicates_and_missing_columns_are_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    fiona = _user(demo_con, "fiona")
    with pytest.raises(plan.PlanRejected, match="row 3, column 'period': one row per period and cost centre"):
        plan.import_plan(demo_con, "dup.csv", b"period,cost_center_id,amount\n2026-10,CC001,1\n2026-10,CC001,2\n",
                         fiona)
    with pytest.raises(plan.FileRefused, match="missing: amount"):
        plan.import_plan(demo_con, "cols.csv", b"period,cost_center_id\n2026-10,CC001\n", fiona)
    with pytest.raises(AccessDenied):
        plan.import_plan(demo_con, "p.csv", b"period,cost_center_id,amount\n2026-10,CC001,1\n",
                         _user(demo_con, "audrey"))
    assert _plan(demo_con) == []


def test_xlsx_plan_and_plan_vs_actual(demo_con: duckdb.DuckDBPyConnection) -> None:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("Plan")
    for r, row in enumerate([["Period", "Cost_Center_ID", "Amount"], ["2026-10", "CC001", 50000],
                             ["2026-10", "CC002", 1234.5]]):
        ws.write_row(r, 0, row)
    wb.close()
    plan.import_plan(demo_con, "plan.xlsx", buf.getvalue(), _user(demo_con, "fiona"))
    view = plan.plan_vs_actual(demo_con, _user(demo_con, "fiona"), PERIOD)
    run = latest_run(demo_con, PERIOD)
    actual = {c: Decimal(a) for c, a in demo_con.execute(
        "SELECT cost_center_id, sum(posted_amount) FROM allocation_result WHERE run_key = ? AND cost_center_id IN"
        " ('CC001', 'CC002') GROUP BY 1", [run]).fetchall()}
    rows = {r["cost_center_id"]: r for r in view.iter_rows(named=True)}
    assert rows["CC001"]["plan"] == Decimal("50000.00") and rows["CC001"]["actual"] == actual["CC001"]
    assert rows["CC002"]["variance"] == actual["CC002"] - Decimal("1234.50")
    # an app owner sees only the cost centres of their scope
    omar = _user(demo_con, "omar")
    scoped = plan.plan_vs_actual(demo_con, omar, PERIOD)
    assert set(scoped["cost_center_id"].to_list()) <= set(omar.cost_centers or ())
