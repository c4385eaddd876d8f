"""Depreciation figures from a fixed-asset policy, conventions, components, journal and the register in the store."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal as D

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.costmodels.depreciation import (
    Asset,
    CapexPolicy,
    Component,
    RegisterItem,
    annual_amounts,
    book_value,
    capex_opex_split,
    component_months,
    depreciation_for_period,
    fiscal_year_of,
    fiscal_year_totals,
    journal,
    journal_csv,
    register_from_store,
    schedule,
)

COST = D(100_000)


def test_ddb_residual_zero_switches_to_straight_line() -> None:
    assert annual_amounts(COST, D(0), 60, "ddb") == [D(40000), D(24000), D(14400), D(10800), D(10800)]


def test_ddb_residual_caps_the_fifth_year() -> None:
    assert annual_amounts(COST, D(10_000), 60, "ddb") == [D(40000), D(24000), D(14400), D(8640), D(2960)]


def test_syd_with_residual() -> None:
    assert annual_amounts(COST, D(10_000), 60, "syd") == [D(30000), D(24000), D(18000), D(12000), D(6000)]


def test_straight_line_and_plain_declining_balance() -> None:
    assert annual_amounts(COST, D(10_000), 60, "straight_line") == [D(18000)] * 5
    # 150 % declining balance without switch: 30 %, the last year writes off what is left above residual.
    db = annual_amounts(COST, D(0), 60, "declining_balance", factor=D("1.5"), switch_to_sl=False)
    assert db[:4] == [D(30000), D(21000), D(14700), D(10290)]
    assert db[4] == D(24010)
    assert sum(db) == COST


def test_monthly_schedule_matches_the_annual_table() -> None:
    a = Asset("SRV-1", date(2026, 1, 20), COST, 60, D(10_000), "ddb", "full_month", "CC-OPS")
    sched = schedule(a)
    assert sched.height == 60
    assert sched["depreciation"][0] == D("3333.33")
    assert fiscal_year_totals(sched) == {2026: D(40000), 2027: D(24000), 2028: D(14400), 2029: D(8640),
                                         2030: D(2960)}
    assert sched["book_value"][-1] == D(10_000)


def test_conventions_and_fiscal_year() -> None:
    # Half-year: bought in October, fiscal year = calendar year → half a year's straight line in the first year.
    hy = Asset("A", date(2026, 10, 3), COST, 60, D(0), "straight_line", "half_year")
    assert fiscal_year_totals(schedule(hy)) == {2026: D(10000), 2027: D(20000), 2028: D(20000), 2029: D(20000),
                                                2030: D(20000), 2031: D(10000)}
    # The three months the convention places before October are caught up in October, never booked earlier.
    first = schedule(hy).row(0, named=True)
    assert (first["period"], first["depreciation"]) == ("2026-10", D("6666.67"))
    # Half-year with DDB: the first fiscal year takes half of asset year 1.
    hy_ddb = Asset("B", date(2026, 3, 1), COST, 60, D(0), "ddb", "half_year")
    assert list(fiscal_year_totals(schedule(hy_ddb)).values())[:2] == [D(20000), D(32000)]
    # Mid-quarter: bought in November (Q4) → 1.5 months in the first year.
    mq = Asset("C", date(2026, 11, 15), COST, 60, D(0), "straight_line", "mid_quarter")
    assert fiscal_year_totals(schedule(mq))[2026] == D(2500)
    # Mid-month: half of the first month, the last half month in month 61.
    mm = schedule(Asset("D", date(2026, 1, 10), D(6000), 60, method="straight_line", convention="mid_month"))
    assert (mm["depreciation"][0], mm["depreciation"][1], mm.height, mm["depreciation"][-1]) == (
        D("50.00"), D("100.00"), 61, D("50.00"))
    # An April fiscal year: FY2027 = Apr 2026 – Mar 2027.
    assert fiscal_year_of("2026-03", 4) == 2026 and fiscal_year_of("2026-04", 4) == 2027
    apr = Asset("E", date(2026, 4, 1), COST, 60, D(0), "syd", "full_month")
    assert fiscal_year_totals(schedule(apr), 4)[2027] == D("33333.33")


def test_book_value_as_of_any_date() -> None:
    a = Asset("F", date(2026, 1, 1), D(12_000), 12)
    assert book_value(a, date(2026, 1, 30)) == D(12_000)
    assert book_value(a, date(2026, 1, 31)) == D(11_000)
    assert book_value(a, date(2026, 7, 15)) == D(6_000)
    assert book_value(a, date(2030, 1, 1)) == D(0)


def test_components_depreciate_separately() -> None:
    # IAS 16: a 120k building services plant — 100k structure over 10 years, 20k batteries over 4 years.
    a = Asset("UPS-1", date(2026, 1, 1), D(120_000), 120, cost_center_id="CC-DC", components=(
        Component("structure", D(100_000), 120), Component("batteries", D(20_000), 48, D(2_000), "syd")))
    sched = schedule(a)
    by_part = {p: sum(sched.filter(component=p)["depreciation"].to_list()) for p in ("structure", "batteries")}
    assert by_part == {"structure": D(100_000), "batteries": D(18_000)}
    assert fiscal_year_totals(sched)[2026] == D(10_000) + D(7_200)
    with pytest.raises(ValueError):
        schedule(Asset("X", date(2026, 1, 1), D(5), 12, components=(Component("p", D(4), 12),)))


def test_units_of_production() -> None:
    part = Component("press", D(50_000), 60, D(5_000), "units_of_production", total_units=D(90_000))
    months = component_months(part, date(2026, 1, 1), "full_month",
                              units_by_period={"2026-01": D(9_000), "2026-02": D(30_000), "2026-03": D(60_000)})
    # 45,000 depreciable / 90,000 units = 0.50 per unit; March would pass the total, so it takes what is left.
    assert months == [("2026-01", D("4500.00")), ("2026-02", D("15000.00")), ("2026-03", D("25500.00"))]


def test_journal_balances_and_is_postable() -> None:
    a = Asset("SRV-2", date(2026, 1, 1), D(3_600), 36, cost_center_id="=HYPERLINK(1)")
    b = Asset("SRV-3", date(2026, 1, 1), D(1_200), 12, cost_center_id="CC-OPS")
    sched = pl.concat([schedule(a, last_period="2026-02"), schedule(b, last_period="2026-02")])
    rows = journal(sched, expense_account="6810", accumulated_account="1790")
    assert rows.height == 8
    per_period = rows.group_by("period").agg(pl.col("debit").sum(), pl.col("credit").sum()).sort("period")
    assert per_period.rows() == [("2026-01", D("200.00"), D("200.00")), ("2026-02", D("200.00"), D("200.00"))]
    parsed = list(csv.DictReader(io.StringIO(journal_csv(rows).decode())))
    assert parsed[0] == {"period": "2026-01", "account": "6810", "cost_centre": "'=HYPERLINK(1)", "debit": "100.00",
                         "credit": "0.00", "description": "Depreciation 2026-01"}


def test_capex_opex_split() -> None:
    items = [
        RegisterItem(Asset("LAP-1", date(2026, 3, 5), D(1_800), 36, cost_center_id="CC-A"), "laptop"),
        RegisterItem(Asset("SRV-9", date(2026, 3, 5), D(24_000), 48, cost_center_id="CC-A"), "server"),
        RegisterItem(Asset("LIC-1", date(2026, 3, 5), D(9_000), 36, cost_center_id="CC-A"), "licence"),
    ]
    split = capex_opex_split(items, "2026-03", CapexPolicy(threshold=D(5_000)))
    assert split.row(0, named=True) == {"period": "2026-03", "cost_center_id": "CC-A", "opex_expensed": D(10_800),
                                        "capex_depreciation": D(500), "capex_additions": D(24_000)}


def test_register_from_store(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO asset (asset_id, class, cost_center_id, purchase_date, cost, residual, useful_life_months,"
        " depreciation_method, depreciation_convention) VALUES"
        " ('S1', 'server', 'CC1', DATE '2026-01-10', 100000, 0, 60, 'ddb', 'full_month'),"
        " ('S2', 'server', 'CC2', DATE '2026-01-10', 60000, 0, 60, 'straight_line', 'full_month'),"
        " ('L1', 'laptop', 'CC2', DATE '2026-01-10', 1500, 0, 36, 'straight_line', 'full_month'),"
        " ('U1', 'storage', 'CC1', DATE '2026-01-10', 9000, 0, 60, 'units', 'full_month'),"
        " ('X1', 'server', 'CC1', NULL, 9000, 0, 60, 'syd', 'full_month')"
    )
    items, skipped = register_from_store(con)
    assert [i.asset.asset_id for i in items] == ["L1", "S1", "S2"]
    assert sorted(a for a, _ in skipped) == ["U1", "X1"]
    dep = depreciation_for_period(con, "2026-02")
    assert dict(zip(dep["asset_id"], dep["depreciation"], strict=True)) == {"S1": D("3333.34"), "S2": D("1000.00")}


METHODS = st.sampled_from(["straight_line", "declining_balance", "ddb", "syd"])
CONVENTIONS = st.sampled_from(["full_month", "mid_month", "half_year", "mid_quarter"])


@settings(max_examples=250, deadline=None)
@given(
    cost_cents=st.integers(1, 10**10),
    residual_share=st.integers(0, 100),
    life=st.integers(1, 180),
    method=METHODS,
    convention=CONVENTIONS,
    factor=st.sampled_from([D("1.25"), D("1.5"), D(2), D(3)]),
    in_service=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    fy_start=st.integers(1, 12),
)
def test_every_schedule_sums_to_cost_less_residual(cost_cents: int, residual_share: int, life: int, method: str,
                                                   convention: str, factor: D, in_service: date,
                                                   fy_start: int) -> None:
    cost = D(cost_cents) / 100
    residual = (cost * residual_share / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
    a = Asset("P", in_service, cost, life, residual, method, convention, factor=factor)  # type: ignore[arg-type]
    sched = schedule(a, fiscal_year_start_month=fy_start)
    deps = sched["depreciation"].to_list()
    assert sum(deps) == cost - residual
    assert all(d >= 0 for d in deps)
    assert min(sched["book_value"].to_list()) == residual
    assert sched["period"][0] == f"{in_service.year:04d}-{in_service.month:02d}"
    assert sum(fiscal_year_totals(sched, fy_start).values()) == cost - residual


# The fiscal year start (setting fiscal_year_start_month) -------------------------------------------------------
# Expected figures come from the conventions' definitions, not from the module: a half-year asset starts depreciating
# at the middle of the fiscal year it entered service in (the 1st of the fiscal year's 7th month), and what falls
# before the in-service month is caught up in it. Straight line, 120,000 over 60 months = 2,000 a month.

HY_COST, HY_LIFE, HY_MONTHLY = D(120_000), 60, D(2_000)


def _months(year: int, month: int) -> int:
    return year * 12 + month - 1


def _half_year_straight_line(in_service: date, fy_start: int, period: str) -> D:
    """The month's charge of the 120k / 60-month half-year asset, from the rule's definition."""
    fy_year = in_service.year if in_service.month >= fy_start else in_service.year - 1
    middle = _months(fy_year, fy_start) + 6  # depreciation runs from the 1st of this month

    def cumulative(p: int) -> D:  # depreciation accrued by the end of month p
        return HY_MONTHLY * min(max(p - middle + 1, 0), HY_LIFE)

    p, first = _months(int(period[:4]), int(period[5:7])), _months(in_service.year, in_service.month)
    if p < first:
        return D(0)
    return cumulative(p) - (cumulative(p - 1) if p > first else D(0))


def _by_period(sched: pl.DataFrame) -> dict[str, D]:
    return dict(zip(sched["period"], sched["depreciation"], strict=True))


def test_half_year_october_asset_january_vs_april_fiscal_year() -> None:
    a = Asset("HY-OCT", date(2026, 10, 3), HY_COST, HY_LIFE, D(0), "straight_line", "half_year", "CC1")
    jan, apr = _by_period(schedule(a)), _by_period(schedule(a, fiscal_year_start_month=4))
    # January year: the middle of FY2026 is 1 July 2026, so October catches up July–October = 4 × 2,000.
    # April year: FY2027 = Apr 2026 – Mar 2027, its middle is 1 October 2026, so October is an ordinary month.
    assert (jan["2026-10"], jan["2026-11"], jan["2026-12"]) == (D("8000.00"), D("2000.00"), D("2000.00"))
    assert (apr["2026-10"], apr["2026-11"], apr["2026-12"]) == (D("2000.00"), D("2000.00"), D("2000.00"))
    # The last charge moves from June 2031 (57 months booked) to September 2031 (60 months).
    assert (max(jan), len(jan), jan["2031-06"]) == ("2031-06", 57, D("2000.00"))
    assert (max(apr), len(apr), apr["2031-09"]) == ("2031-09", 60, D("2000.00"))
    for fy_start, months in ((1, jan), (4, apr)):
        assert months == {p: _half_year_straight_line(a.in_service, fy_start, p) for p in months}
        assert sum(months.values()) == HY_COST
    # Either way the first fiscal year carries half a year (12,000), named by the calendar year it ends in.
    assert fiscal_year_totals(schedule(a)) == {2026: D(12_000), 2027: D(24_000), 2028: D(24_000), 2029: D(24_000),
                                               2030: D(24_000), 2031: D(12_000)}
    assert fiscal_year_totals(schedule(a, fiscal_year_start_month=4), 4) == {
        2027: D(12_000), 2028: D(24_000), 2029: D(24_000), 2030: D(24_000), 2031: D(24_000), 2032: D(12_000)}


def test_half_year_february_asset_january_vs_april_fiscal_year() -> None:
    a = Asset("HY-FEB", date(2027, 2, 10), HY_COST, HY_LIFE, D(0), "straight_line", "half_year", "CC1")
    jan, apr = _by_period(schedule(a)), _by_period(schedule(a, fiscal_year_start_month=4))
    # January year: FY2027's middle is 1 July 2027 → nothing in February–June 2027, 2,000 from July.
    assert [jan[p] for p in ("2027-02", "2027-03", "2027-06", "2027-07")] == [D(0), D(0), D(0), D("2000.00")]
    # April year: February 2027 is in FY2027 (Apr 2026 – Mar 2027), whose middle is 1 October 2026 → February
    # catches up October–February = 5 × 2,000, and March 2027 closes the fiscal year with 2,000 more.
    assert [apr[p] for p in ("2027-02", "2027-03", "2027-06", "2027-07")] == [D("10000.00"), D("2000.00"),
                                                                               D("2000.00"), D("2000.00")]
    for fy_start, months in ((1, jan), (4, apr)):
        assert months == {p: _half_year_straight_line(a.in_service, fy_start, p) for p in months}
    assert fiscal_year_totals(schedule(a, fiscal_year_start_month=4), 4)[2027] == D(12_000)
    assert fiscal_year_totals(schedule(a))[2027] == D(12_000)


def test_fiscal_year_start_leaves_other_conventions_and_aligned_quarters_alone() -> None:
    # Full month and mid-month ignore the fiscal year; April quarters (Apr, Jul, Oct, Jan) coincide with calendar
    # quarters, so mid-quarter is the same too: November is mid-Q → half a month (1,000) in November.
    for conv in ("full_month", "mid_month", "mid_quarter"):
        a = Asset("X", date(2026, 11, 15), HY_COST, HY_LIFE, D(0), "straight_line", conv)  # type: ignore[arg-type]
        assert schedule(a).equals(schedule(a, fiscal_year_start_month=4))
    mq = Asset("MQ", date(2026, 11, 15), HY_COST, HY_LIFE, D(0), "straight_line", "mid_quarter")
    assert _by_period(schedule(mq, fiscal_year_start_month=4))["2026-11"] == D("1000.00")
    # A February year's quarters are Nov–Jan: the middle is 15 December → nothing in November, 1,000 in December.
    feb = _by_period(schedule(mq, fiscal_year_start_month=2))
    assert (feb["2026-11"], feb["2026-12"], feb["2027-01"]) == (D(0), D("1000.00"), D("2000.00"))


def test_depreciation_for_period_follows_the_fiscal_year(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO asset (asset_id, class, cost_center_id, purchase_date, cost, residual, useful_life_months,"
        " depreciation_method, depreciation_convention) VALUES"
        " ('HY-OCT', 'server', 'CC1', DATE '2026-10-03', 120000, 0, 60, 'straight_line', 'half_year')"
    )
    assert depreciation_for_period(con, "2026-10")["depreciation"].to_list() == [D("8000.00")]
    assert depreciation_for_period(con, "2026-10", fiscal_year_start_month=4)["depreciation"].to_list() == [
        D("2000.00")]
