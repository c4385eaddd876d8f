"""A charge spanning a month boundary splits by time, exact to the cent; spot runs bill by actual run time."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal as D

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.costmodels.proration import (
    RunInterval,
    billable_seconds,
    month_slices,
    prorate,
    prorate_frame,
    prorate_until,
    runtime_charges,
)


def test_charge_across_month_end_splits_by_time() -> None:
    # 100.00 for 31 Jan 18:00 → 1 Feb 06:00: 6 h in January, 6 h in February.
    parts = prorate(D("100.00"), datetime(2026, 1, 31, 18), datetime(2026, 2, 1, 6))
    assert parts == {"2026-01": D("50.00"), "2026-02": D("50.00")}


def test_uneven_split_is_exact() -> None:
    # 10.00 over 3 equal hours across two months: 2 h Jan (6.666…), 1 h Feb (3.333…) → 6.67 + 3.33.
    parts = prorate(D("10.00"), datetime(2026, 1, 31, 22), datetime(2026, 2, 1, 1))
    assert parts == {"2026-01": D("6.67"), "2026-02": D("3.33")}
    # A charge that spans three months (including the year end), per second.
    parts = prorate(D("1000.00"), datetime(2025, 11, 30, 12), datetime(2026, 1, 1, 12))
    assert list(parts) == ["2025-11", "2025-12", "2026-01"]
    assert parts == {"2025-11": D("15.63"), "2025-12": D("968.75"), "2026-01": D("15.62")}
    assert sum(parts.values()) == D("1000.00")


def test_zero_length_charge_books_to_its_start_month() -> None:
    assert prorate(D("42.42"), datetime(2026, 3, 1), datetime(2026, 3, 1)) == {"2026-03": D("42.42")}
    assert month_slices(datetime(2026, 3, 1), datetime(2026, 3, 1)) == []


@settings(max_examples=200, deadline=None)
@given(
    st.integers(-10_000_000, 10_000_000),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1)),
    st.integers(0, 200 * 24 * 3600),
)
def test_proration_parts_sum_to_the_charge(cents: int, start: datetime, seconds: int) -> None:
    amount = D(cents) / 100
    parts = prorate(amount, start, start + timedelta(seconds=seconds))
    assert sum(parts.values()) == amount


def test_spot_runs_bill_by_actual_run_time() -> None:
    # 30 s run bills the 60 s minimum; 90 min at 0.0416/h spot then 30 min at 0.05/h.
    assert billable_seconds(datetime(2026, 1, 5), datetime(2026, 1, 5, 0, 0, 30)) == 60
    runs = [
        RunInterval(datetime(2026, 1, 31, 23), datetime(2026, 2, 1, 0, 30), D("0.0416")),
        RunInterval(datetime(2026, 2, 1, 0, 30), datetime(2026, 2, 1, 1), D("0.05")),
    ]
    # 1.5 h × 0.0416 = 0.0624, 0.5 h × 0.05 = 0.025 → 0.0874 → 0.09; Jan holds 1 h of the first interval.
    parts = runtime_charges(runs)
    assert sum(parts.values()) == D("0.09")
    assert parts == {"2026-01": D("0.04"), "2026-02": D("0.05")}


def test_burstable_surplus_credits_and_accrual() -> None:
    runs = [RunInterval(datetime(2026, 4, 1), datetime(2026, 5, 1), D("0.0104"), surplus_credit_charge=D("1.20"))]
    # 720 h × 0.0104 = 7.488 + 1.20 surplus = 8.688 → 8.69
    assert runtime_charges(runs) == {"2026-04": D("8.69")}
    assert prorate_until(D("300.00"), datetime(2026, 4, 1), datetime(2026, 5, 1), datetime(2026, 4, 11)) == D("100.00")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**9, 10**9), st.datetimes(min_value=datetime(2024, 1, 1),
                                                                    max_value=datetime(2027, 1, 1)),
                          st.integers(0, 120 * 24 * 3600 * 1000)), min_size=1, max_size=20))
def test_set_based_proration_equals_the_reference(charges: list[tuple[int, datetime, int]]) -> None:
    # Amounts in tenths of a cent, so rounding to the cent (half away from zero) is exercised too.
    frame = pl.DataFrame(
        {"line": list(range(len(charges))), "amount": [D(a) / 1000 for a, _, _ in charges],
         "start": [s for _, s, _ in charges], "end": [s + timedelta(milliseconds=ms) for _, s, ms in charges]},
        schema_overrides={"amount": pl.Decimal(18, 3)},
    )
    out = prorate_frame(frame)
    for i, (a, s, ms) in enumerate(charges):
        mine = {p: v for _, p, v in out.filter(line=i).select("line", "period", "amount").iter_rows()}
        assert mine == prorate(D(a) / 1000, s, s + timedelta(milliseconds=ms))
