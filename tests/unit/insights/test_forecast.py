"""The forecast over a real store: crafted daily series whose month-end, next quarter and backtest errors are
worked out by hand below, a noisy series the interval must hold, and an app owner who sees only their scope."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import pytest

from engine.access.users import User
from engine.errors import InputError
from engine.insights.forecast import budget, model
from engine.insights.forecast.backtest import backtest
from engine.insights.forecast.projection import TOTAL, forecast

START = date(2026, 1, 5)                      # a Monday: the store's first day
END = date(2026, 3, 31)
ADMIN = User("fiona", "Fiona Finops", "finops", None)
OWNER = User("omar", "Omar Owner", "app_owner", frozenset({"CC-C"}))
WEEKDAY, WEEKEND = Decimal("100.00"), Decimal("40.00")   # CC-A: a working-week pattern
FEE = Decimal("310.00")                                   # CC-A: a recurring monthly fee in February and March


def _cc_a(day: date) -> Decimal:
    return WEEKEND if day.weekday() >= 5 else WEEKDAY


def _cc_b(day: date) -> Decimal:
    return Decimal("60.00") if day >= date(2026, 3, 1) else Decimal("50.00")   # a step on 1 March


def _ts(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def _insert(con: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> None:
    con.executemany(
        "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, sub_account_id,"
        " service_name, billed_cost, effective_cost, billing_currency, tag_cost_center, charge_frequency, batch_id)"
        " VALUES (?, ?, ?, 'aws', 'acct-1', ?, ?, ?, 'USD', ?, ?, 'b1')", rows)


def _org(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO org_unit VALUES ('BU1', 'Digital', 'business_unit', NULL, NULL),"
                " ('BU2', 'Operations', 'business_unit', NULL, NULL),"
                " ('CC-A', 'Web', 'cost_center', 'BU1', NULL), ('CC-B', 'Data', 'cost_center', 'BU1', NULL),"
                " ('CC-C', 'Plant', 'cost_center', 'BU2', NULL)")


def _crafted(con: duckdb.DuckDBPyConnection) -> None:
    _org(con)
    rows: list[tuple[object, ...]] = []
    day = START
    while day <= END:
        for cc, amount in (("CC-A", _cc_a(day)), ("CC-B", _cc_b(day)), ("CC-C", Decimal("20.00"))):
            rows.append((day.strftime("%Y-%m"), _ts(day), _ts(day + timedelta(days=1)), "Amazon EC2", amount, amount,
                         cc, "Usage-Based"))
        day += timedelta(days=1)
    for month, first, nxt in (("2026-02", date(2026, 2, 1), date(2026, 3, 1)),
                              ("2026-03", date(2026, 3, 1), date(2026, 4, 1))):
        rows.append((month, _ts(first), _ts(nxt), "Support fee", FEE, FEE, "CC-A", "Recurring"))
    _insert(con, rows)
    con.execute("INSERT INTO budget VALUES ('2026-03', 'CC-A', 2800.00), ('2026-03', 'CC-B', 2000.00),"
                " ('2026-03', 'CC-C', 700.00)")


def _row(df, key: str, value: str) -> dict[str, object]:  # noqa: ANN001
    rows = df.filter(df[key] == value).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_month_end_is_actual_to_date_plus_known_commitments_plus_the_weekly_run_rate(
        con: duckdb.DuckDBPyConnection) -> None:
    _crafted(con)
    f = forecast(con, ADMIN, "2026-03", date(2026, 3, 15))   # a Sunday
    a = _row(f, "cost_center_id", "CC-A")
    # 1–15 March: 10 weekdays × 100 + 5 weekend days × 40, plus 15/31 of the 310 fee (10 a day)
    assert a["to_date"] == Decimal("1350.00")
    # the fee's 16 remaining days are known, not forecast
    assert a["known_rest"] == Decimal("160.00")
    # 16–31 March: 12 weekdays × 100 + 4 weekend days × 40, from the weekday profile of the last 8 weeks
    assert a["run_rate_rest"] == pytest.approx(1360.00)
    assert a["month_end"] == pytest.approx(2870.00)
    assert a["cost_center"] == "Web" and a["business_unit"] == "Digital"
    # next quarter: April–June hold 65 weekdays and 26 weekend days, plus the fee's 10 a day over 91 days
    assert a["next_quarter"] == pytest.approx(65 * 100 + 26 * 40 + 91 * 10)
    # an exact pattern leaves no noise and there is no second closed month for a drift: the band is the point
    assert a["month_end_lo"] == pytest.approx(2870.00) and a["month_end_hi"] == pytest.approx(2870.00)
    assert _row(f, "cost_center_id", "CC-B")["to_date"] == Decimal("900.00")   # 15 days at 60


def test_budget_view_states_the_variance_and_rolls_up_per_business_unit(con: duckdb.DuckDBPyConnection) -> None:
    _crafted(con)
    v = budget.view(con, ADMIN, "2026-03", date(2026, 3, 15))
    a = _row(v.by_cost_center, "cost_center_id", "CC-A")
    assert a["budget"] == Decimal("2800.00")
    assert a["variance"] == pytest.approx(70.00) and a["over_budget"] and a["status"] == "over"
    c = _row(v.by_cost_center, "cost_center_id", "CC-C")
    assert c["month_end"] == pytest.approx(31 * 20) and c["status"] == "under"
    digital = _row(v.by_business_unit, "business_unit", "Digital")
    b = _row(v.by_cost_center, "cost_center_id", "CC-B")
    assert digital["budget"] == Decimal("4800.00")
    assert digital["to_date"] == Decimal("2250.00")
    assert digital["month_end"] == pytest.approx(a["month_end"] + b["month_end"], abs=0.01)
    total = _row(v.by_business_unit, "business_unit", TOTAL)
    assert total["budget"] == Decimal("5500.00")
    assert total["to_date"] == Decimal("2550.00")   # 2250 + 15 × 20
    assert not v.closed


def test_backtest_mape_and_bias_equal_the_hand_computed_errors(con: duckdb.DuckDBPyConnection) -> None:
    _crafted(con)
    bt = backtest(con, ADMIN, "2026-04", as_of_days=(7, 14))
    # January has fewer than 28 days of history on the 7th and the 14th: February and March are judged.
    # CC-B in February: 50 a day throughout, forecast = actual = 1400. In March (actual 31 × 60 = 1860), the 7th
    # and 14th are whole weeks after the step, so every weekday saw the same share of 60s and the profile is flat:
    #   as of 7 March:  420 to date + 24 days × (21 × 50 + 7 × 60) / 28 = 1680   → error −180 / 1860
    #   as of 14 March: 840 to date + 17 days × (14 × 50 + 14 × 60) / 28 = 1775  → error −85 / 1860
    errors = [0.0, 0.0, -180 / 1860, -85 / 1860]
    b = _row(bt.by_cost_center, "cost_center_id", "CC-B")
    assert b["months"] == 2 and b["forecasts"] == 4
    assert b["mape"] == pytest.approx(100 * sum(abs(e) for e in errors) / 4)
    assert b["bias"] == pytest.approx(100 * sum(errors) / 4)
    a = _row(bt.by_cost_center, "cost_center_id", "CC-A")   # an exact weekly pattern and a known fee: no error
    assert a["mape"] == pytest.approx(0, abs=1e-9) and a["bias"] == pytest.approx(0, abs=1e-9)
    # Digital is judged on its own sum (March actual 2870 + 1860 = 4730), not as a mean of its cost centres
    d = _row(bt.by_business_unit, "business_unit", "Digital")
    assert d["mape"] == pytest.approx(100 * (180 + 85) / 4730 / 4)
    assert d["bias"] == pytest.approx(-100 * (180 + 85) / 4730 / 4)
    march = bt.rows.filter((bt.rows["scope_id"] == "CC-B") & (bt.rows["period"] == "2026-03"))
    assert sorted(march["forecast"].to_list()) == pytest.approx([1680.0, 1775.0])
    assert march["actual"].to_list() == [1860.0, 1860.0]


def test_an_app_owner_sees_only_their_cost_centres(con: duckdb.DuckDBPyConnection) -> None:
    _crafted(con)
    assert forecast(con, OWNER, "2026-03", date(2026, 3, 15))["cost_center_id"].to_list() == ["CC-C"]
    v = budget.view(con, OWNER, "2026-03", date(2026, 3, 15))
    assert v.by_cost_center["cost_center_id"].to_list() == ["CC-C"]
    assert v.by_business_unit["business_unit"].to_list() == ["Operations", TOTAL]
    assert _row(v.by_business_unit, "business_unit", TOTAL)["budget"] == Decimal("700.00")
    assert backtest(con, OWNER, "2026-04", (7, 14)).by_cost_center["cost_center_id"].to_list() == ["CC-C"]
    assert forecast(con, None, "2026-03", date(2026, 3, 15)).is_empty()   # no user: no rows


def test_the_as_of_day_must_lie_in_the_period_and_follow_a_week_of_data(con: duckdb.DuckDBPyConnection) -> None:
    _crafted(con)
    with pytest.raises(InputError, match="not in 2026-03"):
        forecast(con, ADMIN, "2026-03", date(2026, 4, 2))
    with pytest.raises(InputError, match="needs at least 7"):
        forecast(con, ADMIN, "2026-01", date(2026, 1, 8))
    with pytest.raises(InputError, match="not a period"):
        forecast(con, ADMIN, "2026-13", date(2026, 1, 8))


NOISY_START = date(2025, 9, 1)


def _noisy(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    """Seven months of a weekly pattern with ±15% seeded noise and 1% monthly growth; the true monthly totals."""
    _org(con)
    rng = random.Random(7)
    rows: list[tuple[object, ...]] = []
    totals: dict[str, Decimal] = {}
    day = NOISY_START
    while day <= END:
        months = (day.year - NOISY_START.year) * 12 + day.month - NOISY_START.month
        base = 500.0 * (1.01 ** months) * (0.5 if day.weekday() >= 5 else 1.0) * rng.uniform(0.85, 1.15)
        amount = Decimal(str(round(base, 2)))
        period = day.strftime("%Y-%m")
        totals[period] = totals.get(period, Decimal(0)) + amount
        rows.append((period, _ts(day), _ts(day + timedelta(days=1)), "Amazon EC2", amount, amount, "CC-A",
                     "Usage-Based"))
        day += timedelta(days=1)
    _insert(con, rows)
    return totals


def test_the_interval_holds_the_truth_and_widens_with_the_horizon(con: duckdb.DuckDBPyConnection) -> None:
    truth = float(_noisy(con)["2026-03"])
    early = _row(forecast(con, ADMIN, "2026-03", date(2026, 3, 10)), "cost_center_id", "CC-A")
    late = _row(forecast(con, ADMIN, "2026-03", date(2026, 3, 20)), "cost_center_id", "CC-A")
    for f in (early, late):
        assert f["month_end_lo"] < truth < f["month_end_hi"]
    # 21 days left on the 10th, 11 on the 20th, 91 in the next quarter
    assert early["month_end_hw"] > late["month_end_hw"] > 0
    assert early["next_quarter_hw"] > early["month_end_hw"]
    assert early["next_quarter_lo"] < early["next_quarter"] < early["next_quarter_hi"]


def test_a_later_month_of_the_same_length_gets_a_wider_band() -> None:
    rng = np.random.default_rng(3)
    last = date(2026, 3, 31)
    history = 100 + 10 * rng.standard_normal((1, 56))
    fitted = model.fit(history, last, np.array([[100.0, 103.0, 98.0, 104.0]]))
    assert fitted.drift[0] > 0 and fitted.sigma[0] > 0
    month = [last + timedelta(days=k) for k in range(1, 31)]
    later = [last + timedelta(days=k) for k in range(61, 91)]
    assert fitted.half_width(later)[0] > fitted.half_width(month)[0] > fitted.half_width(month[:10])[0] > 0
