"""Apportion's detector on crafted daily series: the day a user would circle is the day flagged, with the amounts
they would compute by hand."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import numpy as np
import pytest

from engine.errors import InputError
from engine.insights.anomalies.detectors import DetectorParams, detect, new_entity

MONDAY = date(2026, 1, 5)
WEEK = [1000.0, 1040.0, 980.0, 1010.0, 990.0, 400.0, 380.0]  # Monday … Sunday


def days(n: int, start: date = MONDAY) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def weekly(n: int, wobble: float = 0.0, seed: int = 7) -> list[float]:
    """The weekly pattern for `n` days, optionally with seeded multiplicative noise (wobble = CV)."""
    rng = np.random.default_rng(seed)
    return [WEEK[i % 7] * (1 + wobble * float(rng.standard_normal())) for i in range(n)]


def test_one_spike_on_a_flat_weekly_pattern_is_that_day_only() -> None:
    amounts = weekly(84)
    spike_day = 72  # a Wednesday in week 11
    amounts[spike_day] += 700
    flags = detect(days(84), amounts)
    assert [f.date for f in flags] == [MONDAY + timedelta(days=spike_day)]
    flag = flags[0]
    assert flag.rule == "seasonal"
    assert flag.expected == pytest.approx(980.0)          # every Wednesday so far
    assert flag.actual == pytest.approx(1680.0)
    assert flag.excess == pytest.approx(700.0)
    assert flag.score is not None and flag.score > DetectorParams().k


def test_expected_is_the_median_of_the_same_weekday_over_four_weeks() -> None:
    amounts = weekly(91, wobble=0.03)
    spike_day = 80
    amounts[spike_day] *= 2.0
    flags = detect(days(91), amounts)
    assert [f.date for f in flags] == [MONDAY + timedelta(days=spike_day)]
    same_weekday = [amounts[spike_day - 7 * w] for w in range(1, 5)]
    assert flags[0].expected == pytest.approx(statistics.median(same_weekday))
    assert flags[0].excess == pytest.approx(amounts[spike_day] - statistics.median(same_weekday))


def test_a_level_shift_is_flagged_from_its_first_day_and_settles() -> None:
    shift = 70
    amounts = [a * (1.5 if i >= shift else 1.0) for i, a in enumerate(weekly(126, wobble=0.03))]
    flags = detect(days(126), amounts)
    flagged = [(f.date - MONDAY).days for f in flags]
    assert flagged[0] == shift
    assert all(shift <= d < shift + 28 for d in flagged)  # the new level becomes the baseline within 4 weeks
    assert flags[0].expected == pytest.approx(statistics.median(amounts[shift - 7 * w] for w in range(1, 5)))


def test_a_quiet_series_has_no_flags() -> None:
    rng = np.random.default_rng(3)
    trend = [1.003 ** i for i in range(120)]  # +0.3 % a day, steady growth is not an anomaly
    amounts = [a * t * (1 + 0.05 * float(rng.standard_normal())) for a, t in zip(weekly(120), trend, strict=True)]
    assert detect(days(120), amounts) == []


def test_short_history_compares_with_the_same_weekday_last_week() -> None:
    amounts = weekly(30)
    amounts[24] *= 1.8   # a Thursday in week 4: +80 % on last Thursday
    amounts[26] *= 1.3   # a Saturday: +30 % is under the +50 % a short history needs
    flags = detect(days(30), amounts)
    assert [(f.date, f.rule) for f in flags] == [(MONDAY + timedelta(days=24), "week_over_week")]
    assert flags[0].expected == pytest.approx(WEEK[24 % 7])   # last Thursday
    assert flags[0].excess == pytest.approx(0.8 * WEEK[24 % 7])
    assert flags[0].score == pytest.approx(0.8)               # the relative change


def test_history_starts_at_the_first_spend_not_at_the_first_date() -> None:
    """Zeros before a series existed are not history: three weeks of spend after months of zeros is short history."""
    amounts = [0.0] * 90 + weekly(21)
    amounts[-1] *= 1.8
    flags = detect(days(111), amounts)
    assert [f.rule for f in flags] == ["week_over_week"]


def test_the_dollar_floor_suppresses_a_tiny_relative_spike() -> None:
    amounts = [a / 50 for a in weekly(84)]   # about $20 a day
    amounts[72] *= 2.0                        # +100 %, but only ~$20
    assert detect(days(84), amounts) == []
    flags = detect(days(84), amounts, DetectorParams(floor=10))
    assert [f.date for f in flags] == [MONDAY + timedelta(days=72)]


def test_a_zero_baseline_is_measured_against_the_floor() -> None:
    amounts = [a if i % 7 < 5 else 0.0 for i, a in enumerate(weekly(84))]  # weekdays only
    amounts[75] = 500.0                                                   # a Saturday
    flags = detect(days(84), amounts)
    assert [(f.date, f.expected, f.actual) for f in flags] == [(MONDAY + timedelta(days=75), 0.0, 500.0)]


def test_since_limits_the_days_reported_not_the_history() -> None:
    amounts = weekly(84)
    amounts[60] += 900
    amounts[80] += 900
    since = MONDAY + timedelta(days=70)
    assert [f.date for f in detect(days(84), amounts, since=since)] == [MONDAY + timedelta(days=80)]


def test_missing_days_are_zero_spend() -> None:
    dates = days(84)
    amounts = weekly(84)
    amounts[72] += 700
    keep = [i for i in range(84) if i != 40]    # one day without a row
    flags = detect([dates[i] for i in keep], [amounts[i] for i in keep])
    assert MONDAY + timedelta(days=72) in [f.date for f in flags]


def test_new_entity_in_the_window_above_the_floor() -> None:
    dates = days(70)
    since = dates[56]
    flag = new_entity(dates, [0.0] * 60 + [30.0] * 10, since)
    assert flag is not None
    assert (flag.date, flag.rule, flag.actual, flag.expected, flag.excess) == (dates[60], "new_entity", 300, 0, 300)
    assert new_entity(dates, [0.0] * 60 + [4.0] * 10, since) is None              # $40 in all: under the floor
    assert new_entity(dates, [0.0] * 50 + [30.0] * 20, since) is None             # started before the window
    assert new_entity(dates[60:], [30.0] * 10, since) is None                      # never seen without it


def test_parameters_are_checked() -> None:
    with pytest.raises(InputError, match="k must be a positive number"):
        DetectorParams(k=0)
    with pytest.raises(InputError, match="floor"):
        DetectorParams(floor=-1)
    with pytest.raises(InputError, match="dates but"):
        detect(days(3), [1.0, 2.0])
    with pytest.raises(InputError, match="once"):
        detect([MONDAY, MONDAY], [1.0, 2.0])
