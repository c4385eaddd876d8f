"""Depreciation schedules per asset and per pool, and disposals, with figures worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import duckdb
import pytest

from engine.access.users import User
from engine.costmodels import schedules
from engine.errors import AccessDenied, InputError, NotFound

FINOPS = User("fiona", "Fiona", "finops", None)
AUDITOR = User("audrey", "Audrey", "auditor", None)


def _assets(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO asset (asset_id, class, cost_center_id, purchase_date, cost, residual, useful_life_months,"
        " depreciation_method, depreciation_convention) VALUES"
        " ('SRV-1', 'server', 'CC1', DATE '2026-01-15', 12000, 0, 36, 'straight_line', 'full_month'),"
        " ('STO-1', 'storage', 'CC2', DATE '2026-01-01', 10000, 0, 60, 'ddb', 'full_month'),"
        " ('LAP-1', 'laptop', 'CC1', DATE '2026-02-01', 1000, 0, 36, 'straight_line', 'full_month'),"
        " ('SRV-9', 'server', 'CC1', NULL, 5000, 0, 36, 'straight_line', 'full_month')"
    )


def test_asset_schedule_rounds_cumulatives_and_ends_at_residual(con: duckdb.DuckDBPyConnection) -> None:
    _assets(con)
    s = schedules.asset_schedule(con, "SRV-1")
    assert (s.method, s.convention, s.classification, s.pool) == ("straight_line", "full_month", "capex", "server")
    rows = s.schedule.select("period", "depreciation", "accumulated", "book_value").rows()
    # 12,000 / 36 = 333.333…: cumulatives 333.33, 666.67, 1,000.00 → monthly 333.33, 333.34, 333.33
    assert rows[:3] == [("2026-01", D("333.33"), D("333.33"), D("11666.67")),
                        ("2026-02", D("333.34"), D("666.67"), D("11333.33")),
                        ("2026-03", D("333.33"), D("1000.00"), D("11000.00"))]
    assert len(rows) == 36 and rows[-1] == ("2028-12", D("333.33"), D("12000.00"), D("0.00"))
    assert s.disposal is None and s.gain_or_loss is None


def test_pools_for_a_month(con: duckdb.DuckDBPyConnection) -> None:
    _assets(con)
    pools = {r["pool"]: r for r in schedules.pools_for_period(con, "2026-06").iter_rows(named=True)}
    # server: 6 months × 333.33… = 2,000.00 accumulated; June = 2,000.00 − 1,666.67
    assert {k: pools["server"][k] for k in ("assets", "capex_assets", "cost", "depreciation", "accumulated",
                                            "book_value")} == {
        "assets": 1, "capex_assets": 1, "cost": D("12000.00"), "depreciation": D("333.33"),
        "accumulated": D("2000.00"), "book_value": D("10000.00")}
    # storage, DDB over 5 years: year one = 10,000 × 2/5 = 4,000 → 2,000.00 by June, June = 2,000.00 − 1,666.67
    assert (pools["storage"]["depreciation"], pools["storage"]["book_value"]) == (D("333.33"), D("8000.00"))
    # the 1,000 laptop is below the 5,000 capex threshold: expensed when bought, in no depreciation pool
    assert (pools["laptop"]["assets"], pools["laptop"]["capex_assets"], pools["laptop"]["cost"]) == (1, 0, D("0.00"))
    assert schedules.asset_schedule(con, "LAP-1").classification == "opex"
    listed = schedules.pool_assets(con, "server", "2026-06")
    assert listed.select("asset_id", "depreciation", "book_value").rows() == [("SRV-1", D("333.33"), D("10000.00"))]


def test_disposal_stops_depreciation_and_books_the_loss(con: duckdb.DuckDBPyConnection) -> None:
    _assets(con)
    s = schedules.record_disposal(con, FINOPS, "SRV-1", date(2026, 4, 10), D("9000"), "sold to refurbisher")
    # months ended by 10 April: January–March = 1,000.00 → book value 11,000.00; 9,000 − 11,000 = −2,000.00
    assert s.schedule["period"].to_list() == ["2026-01", "2026-02", "2026-03"]
    assert (s.book_value_at_disposal, s.gain_or_loss) == (D("11000.00"), D("-2000.00"))
    pools = {r["pool"]: r for r in schedules.pools_for_period(con, "2026-06").iter_rows(named=True)}
    assert (pools["server"]["capex_assets"], pools["server"]["disposed"], pools["server"]["book_value"]) == (
        0, 1, D("0.00"))
    march = {r["pool"]: r for r in schedules.pools_for_period(con, "2026-03").iter_rows(named=True)}
    assert march["server"]["depreciation"] == D("333.33")       # still in the pool in its last depreciated month
    ev = con.execute("SELECT actor, detail->>'$.book_value', detail->>'$.reason' FROM audit_event"
                     " WHERE action = 'asset.dispose'").fetchall()
    assert ev == [("fiona", "11000.00", "sold to refurbisher")]
    with pytest.raises(InputError, match="already disposed"):
        schedules.record_disposal(con, FINOPS, "SRV-1", date(2026, 5, 1), D("0"), "again")


def test_disposal_is_refused_to_readers_and_checked(con: duckdb.DuckDBPyConnection) -> None:
    _assets(con)
    with pytest.raises(AccessDenied):
        schedules.record_disposal(con, AUDITOR, "SRV-1", date(2026, 4, 10), D("0"), "scrapped")
    with pytest.raises(InputError, match="before it entered service"):
        schedules.record_disposal(con, FINOPS, "SRV-1", date(2025, 12, 31), D("0"), "scrapped")
    with pytest.raises(InputError, match="reason"):
        schedules.record_disposal(con, FINOPS, "SRV-1", date(2026, 4, 10), D("0"), " ")
    with pytest.raises(InputError, match="cannot be scheduled"):
        schedules.asset_schedule(con, "SRV-9")
    with pytest.raises(NotFound):
        schedules.asset_schedule(con, "NOPE")
    assert con.execute("SELECT count(*) FROM asset_disposal").fetchall() == [(0,)]
