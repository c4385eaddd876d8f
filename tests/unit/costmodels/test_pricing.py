"""Tiered pricing figures a FinOps lead checks against the vendor's price page, and the cent-exact split."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.costmodels.pricing import (
    DiscountBand,
    Tier,
    graduated_cost,
    price_and_split,
    round_to_total,
    saas_seat_cost,
    seat_charges,
    split_cents,
    volume_cost,
    volume_discount,
)

TIERS = [Tier(D(1000), D("0.10")), Tier(D(10000), D("0.08")), Tier(None, D("0.05"))]


@pytest.mark.parametrize(
    ("qty", "expected"),
    [(0, "0.00"), (1000, "100.00"), (1001, "100.08"), (10000, "820.00"), (10001, "820.05"), (25000, "1570.00")],
)
def test_graduated_check_figures(qty: int, expected: str) -> None:
    assert graduated_cost(D(qty), TIERS) == D(expected)


@pytest.mark.parametrize(
    ("qty", "expected"),
    [(1000, "100.00"), (1001, "80.08"), (10000, "800.00"), (10001, "500.05"), (25000, "1250.00")],
)
def test_volume_check_figures(qty: int, expected: str) -> None:
    assert volume_cost(D(qty), TIERS) == D(expected)


def test_bad_tiers_are_refused() -> None:
    with pytest.raises(ValueError):
        graduated_cost(D(5), [Tier(None, D(1)), Tier(D(10), D(1))])
    with pytest.raises(ValueError):
        graduated_cost(D(5), [Tier(D(10), D(1)), Tier(D(5), D(1)), Tier(None, D(1))])
    with pytest.raises(ValueError):
        volume_cost(D(50), [Tier(D(10), D(1))])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 50_000), st.integers(0, 50_000))
def test_graduated_is_monotonic(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert graduated_cost(D(lo), TIERS) <= graduated_cost(D(hi), TIERS)


def test_split_cents_is_exact_and_deterministic() -> None:
    shares = split_cents(D("100.00"), {"A": D(1), "B": D(1), "C": D(1)})
    assert shares == {"A": D("33.34"), "B": D("33.33"), "C": D("33.33")}
    assert sum(shares.values()) == D("100.00")
    credit = split_cents(D("-10.00"), {"A": D(2), "B": D(1)})
    assert credit == {"A": D("-6.67"), "B": D("-3.33")}


@settings(max_examples=150, deadline=None)
@given(st.integers(-10_000_000, 10_000_000), st.lists(st.integers(0, 10_000), min_size=1, max_size=12))
def test_split_cents_always_adds_up(total_cents: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        weights[0] = 1
    total = D(total_cents) / 100
    shares = split_cents(total, {f"k{i}": D(w) for i, w in enumerate(weights)})
    assert sum(shares.values()) == total
    assert all(v == 0 for k, v in shares.items() if weights[int(k[1:])] == 0)


def test_pooled_price_split_adds_up_to_the_invoice() -> None:
    # Three BUs share one account: priced separately they would pay 100+100+100.08 = 300.08 for 3,001 units,
    # the vendor bills 3,001 units graduated = 100 + 2,001 × 0.08 = 260.08.
    res = price_and_split({"BU-A": D(1000), "BU-B": D(1000), "BU-C": D(1001)}, TIERS, "graduated")
    assert res.invoice_total == D("260.08")
    # 26,008 cents × 1000/3001 = 8,666.44 twice and × 1001/3001 = 8,675.11: the one cent left goes to the first tie.
    assert res.shares == {"BU-A": D("86.67"), "BU-B": D("86.66"), "BU-C": D("86.75")}
    assert sum(res.shares.values()) == res.invoice_total
    assert res.effective_unit_rate.quantize(D("0.000001")) == D("0.086664")


def test_volume_discount_and_saas_seats() -> None:
    bands = [DiscountBand(D(10_000), D(5)), DiscountBand(D(50_000), D(10))]
    assert volume_discount(D("9999.99"), bands) == (D("0.00"), D("9999.99"))
    assert volume_discount(D("20000"), bands) == (D("1000.00"), D("19000.00"))
    assert volume_discount(D("60000"), bands) == (D("6000.00"), D("54000.00"))
    seat_tiers = [Tier(D(100), D("12.00")), Tier(D(500), D("10.00")), Tier(None, D("8.00"))]
    # 230 seats used, 250 committed, bought in packs of 25: 250 seats at the 101–500 price.
    assert saas_seat_cost(230, seat_tiers, "volume", minimum_seats=250, block_size=25) == (250, D("2500.00"))
    # 101 seats graduated: 100 × 12 + 1 × 10.
    assert saas_seat_cost(101, seat_tiers, "graduated") == (101, D("1210.00"))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.decimals(min_value=-10**6, max_value=10**6, places=6, allow_nan=False), min_size=1, max_size=15))
def test_round_to_total_keeps_the_sum(values: list[D]) -> None:
    parts = round_to_total({i: v for i, v in enumerate(values)})
    assert sum(parts.values()) == sum(values).quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert all(abs(parts[i] - v) < D("0.01") for i, v in enumerate(values))


def test_saas_seats_from_the_store_split_with_shelfware(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO licence_entitlement VALUES ('Wiki', 'Acme', 10, 6.05, 'b'), ('BI', 'Acme', 2, 75, 'b')")
    con.execute("INSERT INTO licence_assignment (product, username, cost_center_id, assigned_on) VALUES"
                " ('Wiki', 'a', 'CC1', DATE '2026-01-05'), ('Wiki', 'b', 'CC1', DATE '2026-02-01'),"
                " ('Wiki', 'c', 'CC2', DATE '2026-09-30'), ('Wiki', 'd', 'CC2', DATE '2026-10-01'),"
                " ('BI', 'a', 'CC1', NULL), ('BI', 'b', 'CC1', NULL), ('BI', 'c', 'CC2', NULL)")
    # September: 3 seats assigned of 10 committed → 10 × 6.05 = 60.50; 7 idle seats are shelfware.
    bill = seat_charges(con, "Wiki", "2026-09")
    assert (bill.assigned, bill.billable, bill.cost) == (3, 10, D("60.50"))
    assert bill.shares == {"CC1": D("12.10"), "CC2": D("6.05"), "SHELFWARE": D("42.35")}
    # Over-assigned BI: 3 seats on 2 entitlements is a true-up, all billable, no shelfware.
    bi = seat_charges(con, "BI", "2026-09")
    assert (bi.billable, bi.cost, bi.shares) == (3, D("225.00"), {"CC1": D("150.00"), "CC2": D("75.00")})
    # With vendor tiers (first 5 seats at 8.00, then 5.00, all-units): 10 billable seats → 50.00.
    tiered = seat_charges(con, "Wiki", "2026-10", tiers=[Tier(D(5), D(8)), Tier(None, D(5))])
    assert (tiered.cost, sum(tiered.shares.values()), tiered.seats) == (D("50.00"), D("50.00"), {"CC1": 2, "CC2": 2})
    with pytest.raises(LookupError):
        seat_charges(con, "Nope", "2026-09")
