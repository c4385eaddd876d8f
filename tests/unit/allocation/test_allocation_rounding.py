"""Cents at posting: largest remainder per pool, controlled rounding across pools and targets."""

from __future__ import annotations

from decimal import Decimal

from engine.allocation.rounding import controlled, largest_remainder, to_cents

D = Decimal


def test_thirds_of_a_hundred_dollars() -> None:
    third = D(100) / 3
    assert largest_remainder([third, third, third], 10_000, ["a", "b", "c"]) == [3334, 3333, 3333]


def test_tie_break_is_the_key_not_the_input_order() -> None:
    third = D(100) / 3
    assert largest_remainder([third, third, third], 10_000, ["c", "a", "b"]) == [3333, 3334, 3333]


def test_credits_round_by_largest_remainder_too() -> None:
    # -10.005 and -0.005 floor to -10.01 and -0.01; the total -10.01 needs one cent back, to the larger remainder
    assert largest_remainder([D("-10.005"), D("-0.005")], -1001, ["x", "y"]) == [-1000, -1]


def test_pool_total_rounds_half_even() -> None:
    assert to_cents(D("0.125")) == 12 and to_cents(D("0.135")) == 14 and to_cents(D("-0.125")) == -12


def test_controlled_rounding_keeps_pools_and_targets_on_their_cents() -> None:
    third = D(1) / 3
    cells = {("p1", "A"): third, ("p1", "B"): 2 * third, ("p2", "A"): third, ("p2", "B"): 2 * third,
             ("p3", "A"): third, ("p3", "B"): 2 * third}
    cents = controlled(cells, {"p1": 100, "p2": 100, "p3": 100})
    for p in ("p1", "p2", "p3"):
        assert cents[(p, "A")] + cents[(p, "B")] == 100
    assert sum(cents[(p, "A")] for p in ("p1", "p2", "p3")) == 100  # exactly $1.00, not 0.99
    assert sum(cents[(p, "B")] for p in ("p1", "p2", "p3")) == 200
    assert all(abs(D(c) / 100 - cells[k]) < D("0.01") for k, c in cents.items())
