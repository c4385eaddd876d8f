"""The forecast's reads from the day rollup (engine/store/day_rollup.py) give the frames the lines give, to the last
digit: on random lines of any span (within a day, across days and month ends, zero-length), for a full scope and an
app owner's, and on the demo store; and the executives' budget view is the same whichever path it reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from engine.access.users import User
from engine.insights.forecast import budget, series
from engine.store import day_rollup, rollup
from tests.unit.insights.test_forecast import ADMIN, OWNER, _crafted, _org

T0 = datetime(2026, 1, 1)
PERIODS = ("2026-01", "2026-02", "2026-03")

_line = st.tuples(
    st.integers(0, 89 * 24 * 4),                                  # start, in quarter hours from 1 January
    # length in quarter hours (0: a point in time; None: no end, as a line written around the engine can be)
    st.sampled_from([0, 1, 4, 60, 96, 97, 24 * 4 * 3 + 7, 24 * 4 * 40, None]),
    st.decimals(Decimal("-500"), Decimal("5000"), places=10, allow_nan=False, allow_infinity=False),
    st.sampled_from(["Usage-Based", "Recurring", "One-Time"]),
    st.sampled_from([None, "Unused", "Used"]),
    st.sampled_from(["Usage", "Purchase", "Credit"]),
    st.sampled_from(["CC-A", "CC-B", "CC-C", None, "cc-nope"]),
    st.sampled_from(["acct-1", "acct-2", None]),
    st.integers(0, 2),                                            # billing period: 0 = the start's month
)


def _frames_equal(a: pl.DataFrame, b: pl.DataFrame) -> None:
    keys = [c for c in a.columns if c != "amount"]
    assert_frame_equal(a.sort(keys, nulls_last=True), b.sort(keys, nulls_last=True), check_exact=True)


def _same_both_ways(con: duckdb.DuckDBPyConnection, users: tuple[User, ...], periods: list[str],
                    throughs: Callable[[str], list[date]]) -> None:
    """Compare every read on both paths: the daily series of each period as of each of its `throughs`, its default
    day, and the closed actuals of all `periods`."""
    for user in users:
        for period in periods:
            for through in throughs(period):
                rolled = series.daily(con, user, period, through, rolled=True)
                lines = series.daily(con, user, period, through, rolled=False)
                _frames_equal(rolled.frame, lines.frame)
                assert rolled.first_day == lines.first_day
            assert series.last_day_with_data(con, user, period, rolled=True) == \
                series.last_day_with_data(con, user, period, rolled=False)
        _frames_equal(series.actuals(con, user, periods, rolled=True),
                      series.actuals(con, user, periods, rolled=False))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=25), through=st.integers(0, 95))
def test_the_day_rollup_reads_equal_the_lines_reads(con: duckdb.DuckDBPyConnection, lines: list[tuple[object, ...]],
                                                    through: int) -> None:
    con.execute("BEGIN")
    try:
        _org(con)
        con.execute("INSERT INTO account_owner (provider, sub_account_id, cost_center_id)"
                    " VALUES ('aws', 'acct-2', 'CC-C')")
        rows = []
        for start_q, length_q, cost, freq, status, category, cc, acct, shift in lines:
            s = T0 + timedelta(minutes=15 * int(str(start_q)))
            e = None if length_q is None else s + timedelta(minutes=15 * int(str(length_q)))
            rows.append((series.shift(s.strftime("%Y-%m"), int(str(shift))), s, e, acct, cost, cost, cc, freq,
                         status, category))
        con.executemany(
            "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, sub_account_id,"
            " service_name, billed_cost, effective_cost, billing_currency, tag_cost_center, charge_frequency,"
            " commitment_discount_status, charge_category, batch_id)"
            " VALUES (?, ?, ?, 'aws', ?, 'svc', ?, ?, 'USD', ?, ?, ?, ?, 'b1')", rows)
        assert not day_rollup.current(con)       # written around the engine: the readers would read the lines
        rollup.rebuild(con)
        assert day_rollup.current(con)
        _same_both_ways(con, (ADMIN, OWNER), list(PERIODS),
                        lambda _: [date(2026, 1, 1) + timedelta(days=through), date(2026, 3, 31)])
    finally:
        con.execute("ROLLBACK")


def test_on_the_demo_store_the_reads_are_the_same_and_the_rollup_is_smaller(demo_con: duckdb.DuckDBPyConnection
                                                                           ) -> None:
    assert day_rollup.current(demo_con)          # the demo build keeps it
    multi, known = demo_con.execute(
        "SELECT count(*) FILTER (WHERE charge_period_end > date_trunc('day', charge_period_start) + INTERVAL 1 DAY),"
        f" count(*) FILTER (WHERE {day_rollup.KNOWN}) FROM cost_line l").fetchall()[0]
    assert multi > 0 and known > 0               # both kinds of line the spread treats apart are there
    periods = [r[0] for r in demo_con.execute("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall()]
    owner = User("omar", "Omar", "app_owner", frozenset(
        r[0] for r in demo_con.execute("SELECT unit_id FROM org_unit WHERE kind = 'cost_center' LIMIT 2").fetchall()))
    _same_both_ways(demo_con, (ADMIN, owner), periods,
                    lambda period: [series.month_bounds(period)[1] - timedelta(days=20),
                                    series.month_bounds(period)[1]])
    rolled, lines = demo_con.execute("SELECT (SELECT count(*) FROM day_rollup), (SELECT count(*) FROM cost_line)"
                                     ).fetchall()[0]
    assert rolled < lines


def test_the_budget_view_is_the_same_through_the_rollup(con: duckdb.DuckDBPyConnection) -> None:
    _crafted(con)
    assert not day_rollup.current(con)
    by_lines = budget.view(con, ADMIN, "2026-03", date(2026, 3, 15))
    rollup.rebuild(con)
    assert day_rollup.current(con) and rollup.current(con)
    by_rollup = budget.view(con, ADMIN, "2026-03", date(2026, 3, 15))
    assert_frame_equal(by_rollup.by_cost_center, by_lines.by_cost_center, check_exact=True)
    assert_frame_equal(by_rollup.by_business_unit, by_lines.by_business_unit, check_exact=True)
