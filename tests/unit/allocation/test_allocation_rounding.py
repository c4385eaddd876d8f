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


def test_a_target_on_a_whole_cent_keeps_it_when_pool_cents_fall_short() -> None:
    # pools post 0.45 + 0.25 + 1.11 = 1.81; targets are exactly A 0.710, B 0.857, C 0.246 (1.813, nearest 1.82), so
    # one of B and C must give up its nearest cent — A, a whole 0.71, need not (largest remainder per pool gave 0.70)
    cells = {("p1", "A"): D("0.394"), ("p1", "B"): D("0.059"), ("p2", "C"): D("0.246"), ("p3", "A"): D("0.316"),
             ("p3", "B"): D("0.798")}
    cents = controlled(cells, {"p1": 45, "p2": 25, "p3": 111})
    total = {t: sum(c for (_, tt), c in cents.items() if tt == t) for t in "ABC"}
    assert total["A"] == 71 and total["B"] + total["C"] == 110 and total["B"] in (85, 86)
    assert cents[("p1", "A")] + cents[("p1", "B")] == 45 and cents[("p3", "A")] + cents[("p3", "B")] == 111
    assert all(abs(D(c) / 100 - cells[k]) < D("0.01") for k, c in cents.items())


def test_credits_round_to_floor_or_ceiling_and_targets_to_their_nearest_cent() -> None:
    # a refund of -0.014 and a charge of 0.021 to A, 0.0160 to B: the pool posts 0.023 → 0.02; A nets 0.007 → 0.01
    cells = {("p", "A"): D("-0.014"), ("q", "A"): D("0.021"), ("q", "B"): D("0.016")}
    cents = controlled(cells, {"p": -1, "q": 4})
    assert cents[("p", "A")] == -1 and cents[("q", "A")] + cents[("q", "B")] == 4
    assert cents[("p", "A")] + cents[("q", "A")] == 1 and cents[("q", "B")] == 2
