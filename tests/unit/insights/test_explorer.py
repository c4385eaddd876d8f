"""Drill-down queries: filters are bound parameters, totals equal the raw bill, app owners see only their own."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine.access.users import get_user
from engine.insights import explorer
from engine.insights.explorer import Filters

PERIOD = "2026-06"


def _user(con: duckdb.DuckDBPyConnection, name: str):  # noqa: ANN202
    u = get_user(con, name)
    assert u is not None
    return u


def test_business_units_add_up_to_the_bill(demo_con: duckdb.DuckDBPyConnection) -> None:
    rows = explorer.breakdown(demo_con, _user(demo_con, "eve"), PERIOD, "business_unit")
    bill = demo_con.execute("SELECT sum(effective_cost) FROM cost_line WHERE billing_period = ?", [PERIOD]).fetchall()
    assert abs(Decimal(rows["cost"].sum()) - bill[0][0]) < Decimal("0.01") * rows.height


def test_tag_filter_matches_sql(demo_con: duckdb.DuckDBPyConnection) -> None:
    f = Filters(tag_key="application", tag_value="APP018")
    rows = explorer.breakdown(demo_con, _user(demo_con, "eve"), PERIOD, "service_name", f)
    sql = demo_con.execute("SELECT sum(effective_cost)::DECIMAL(18, 2) FROM cost_line WHERE billing_period = ?"
                           " AND tags['application'] = 'APP018'", [PERIOD]).fetchall()[0][0]
    assert abs(Decimal(rows["cost"].sum()) - sql) <= Decimal("0.01") * rows.height
    assert "application" in explorer.tag_keys(demo_con)


def test_app_owner_cannot_drill_outside_scope(demo_con: duckdb.DuckDBPyConnection) -> None:
    omar = _user(demo_con, "omar")
    ccs = explorer.breakdown(demo_con, omar, PERIOD, "cost_center")
    assert set(ccs["name"]) <= {"E-commerce Platform", "Mobile Apps", "Search & Recommendations"}
    # asking for someone else's business unit by name yields nothing rather than their data
    other = explorer.breakdown(demo_con, omar, PERIOD, "cost_center", Filters({"business_unit": "Retail"}))
    assert other.is_empty()


def test_hostile_values_are_data_not_sql(demo_con: duckdb.DuckDBPyConnection) -> None:
    f = Filters({"business_unit": "x' OR 1=1 --"}, tag_key="owner", tag_value="'; DROP TABLE cost_line; --")
    assert explorer.breakdown(demo_con, _user(demo_con, "eve"), PERIOD, "cost_center", f).is_empty()
    assert demo_con.execute("SELECT count(*) FROM cost_line").fetchall()[0][0] > 0
    with pytest.raises(ValueError):
        explorer.breakdown(demo_con, _user(demo_con, "eve"), PERIOD, "1; DROP TABLE cost_line")
