"""The anomaly scan over a real store: ten weeks of daily cost lines, one spike, and who gets to see it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from engine.access.users import User
from engine.errors import InputError
from engine.insights.anomalies.scan import scan

START = date(2026, 1, 5)          # a Monday; ten weeks of data: 2026-01-05 … 2026-03-15
DAYS = 70
SPIKE_DAY = date(2026, 3, 11)     # a Wednesday in the last week
WINDOW = (date(2026, 3, 9), date(2026, 3, 15))
ADMIN = User("fiona", "Fiona Finops", "finops", None)
# (service, resource, cost centre, weekday amount): the weekend runs at 60 %
SERVICES = [("Amazon EC2", "i-0abc", "CC-WEB", Decimal("800.00")),
            ("Amazon S3", "bucket-logs", "CC-WEB", Decimal("200.00")),
            ("Amazon RDS", "db-orders", "CC-DATA", Decimal("500.00"))]
SPIKE = Decimal("1500.00")


def _day_amount(base: Decimal, i: int) -> Decimal:
    day = START + timedelta(days=i)
    wobble = Decimal(1) + Decimal((i * 37) % 7 - 3) / 100   # ±3 %, deterministic
    weekend = Decimal("0.6") if day.weekday() >= 5 else Decimal(1)
    return (base * weekend * wobble).quantize(Decimal("0.01"))


def _insert(con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> None:
    con.executemany(
        "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, sub_account_id,"
        " service_name, resource_id, billed_cost, effective_cost, billing_currency, tag_cost_center, batch_id)"
        " VALUES (?, ?, ?, 'aws', ?, ?, ?, ?, ?, 'USD', ?, 'b1')", rows)


def _store(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO org_unit VALUES ('BU1', 'Digital', 'business_unit', NULL, NULL),"
                " ('CC-WEB', 'Web', 'cost_center', 'BU1', NULL), ('CC-DATA', 'Data', 'cost_center', 'BU1', NULL)")
    rows: list[tuple[object, ...]] = []
    for i in range(DAYS):
        day = datetime.combine(START + timedelta(days=i), datetime.min.time())
        for service, resource, cc, base in SERVICES:
            amount = _day_amount(base, i)
            if resource == "i-0abc" and day.date() == SPIKE_DAY:
                amount += SPIKE
            # two lines a day per resource (two usage types), so the day is a sum
            half = (amount / 2).quantize(Decimal("0.01"))
            for part in (half, amount - half):
                rows.append((day.strftime("%Y-%m"), day, day + timedelta(days=1), "111122223333", service, resource,
                             part, part, cc))
    # a monthly support fee on each month's whole charge period: spread over its days, never a spike on the 1st
    for month, end in (("2026-01", "2026-02-01"), ("2026-02", "2026-03-01"), ("2026-03", "2026-04-01")):
        start = datetime.fromisoformat(f"{month}-01")
        fee = Decimal("3100.00")
        rows.append((month, start, datetime.fromisoformat(end), "111122223333", "AWS Support", None, fee, fee,
                     "CC-WEB"))
    _insert(con, rows)


def _expected(base: Decimal, i: int) -> Decimal:
    lags = sorted(_day_amount(base, i - 7 * w) for w in range(1, 5))
    return ((lags[1] + lags[2]) / 2).quantize(Decimal("0.01"))


def test_the_spike_is_named_by_service_resource_and_day(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    flags = scan(con, ADMIN, *WINDOW)
    assert set(flags["date"]) == {SPIKE_DAY}
    by_kind = {r["scope_kind"]: r for r in flags.iter_rows(named=True)}
    assert set(by_kind) == {"cost_center", "application", "service", "account", "resource"}
    i = (SPIKE_DAY - START).days
    expected = _expected(Decimal("800.00"), i)
    actual = _day_amount(Decimal("800.00"), i) + SPIKE
    for kind, scope_id in (("service", "Amazon EC2"), ("resource", "i-0abc")):
        row = by_kind[kind]
        assert row["scope_id"] == scope_id
        assert (row["actual"], row["expected"], row["excess"]) == (actual, expected, actual - expected)
        assert row["rule"] == "seasonal" and row["score"] > 3.5
    assert by_kind["cost_center"]["scope_id"] == "CC-WEB"
    assert by_kind["cost_center"]["excess"] > SPIKE * Decimal("0.9")
    assert by_kind["account"]["scope_id"] == "111122223333"
    assert by_kind["application"]["scope_id"] == "Unattributed"   # no application tag, no account owner


def test_the_monthly_fee_is_spread_not_a_spike_on_the_first(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    flags = scan(con, ADMIN, date(2026, 2, 23), date(2026, 3, 8), levels=["cost_center", "service"])
    assert flags.is_empty()


def test_an_app_owner_of_another_cost_centre_sees_no_flag(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    data_owner = User("dora", "Dora Data", "app_owner", frozenset({"CC-DATA"}))
    assert scan(con, data_owner, *WINDOW).is_empty()
    web_owner = User("wes", "Wes Web", "app_owner", frozenset({"CC-WEB"}))
    assert "i-0abc" in scan(con, web_owner, *WINDOW, levels=["resource"])["scope_id"].to_list()


def test_no_user_sees_nothing(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    assert scan(con, None, *WINDOW).is_empty()


def test_a_new_resource_in_the_window(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    rows: list[tuple[object, ...]] = []
    for d in (date(2026, 3, 12), date(2026, 3, 13)):
        day = datetime.combine(d, datetime.min.time())
        rows.append((day.strftime("%Y-%m"), day, day + timedelta(days=1), "111122223333", "Amazon EC2", "i-0new",
                     Decimal("120.00"), Decimal("120.00"), "CC-WEB"))
    _insert(con, rows)
    flags = scan(con, ADMIN, *WINDOW, levels=["resource"]).filter(pl.col("rule") == "new_entity")
    assert flags.select("scope_id", "date", "actual", "expected").rows() == [
        ("i-0new", date(2026, 3, 12), Decimal("240.00"), Decimal("0.00"))]


def test_a_bad_window_or_level_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputError, match="before it starts"):
        scan(con, ADMIN, date(2026, 3, 15), date(2026, 3, 9))
    with pytest.raises(InputError, match="unknown scope level"):
        scan(con, ADMIN, *WINDOW, levels=["business_unit"])
