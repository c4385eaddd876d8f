"""The exact reciprocal solver: textbook totals, and singular groups refused with a message."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.allocation.reciprocal import SingularSystem, solve

PCT = Fraction(1, 100)


def test_textbook_reciprocal_totals() -> None:
    # rows: HR, DP, RM; columns: share sent to HR, DP, RM
    s = [[0, 20 * PCT, 10 * PCT], [8 * PCT, 0, 7 * PCT], [0, 0, 0]]
    hr, dp, rm = solve(s, [80_000, 120_000, 40_000], ["HR", "DP", "RM"])
    assert round(hr) == 91_057 and round(dp) == 138_211 and round(rm * 10) == 587_805
    machining = hr * 40 * PCT + dp * 30 * PCT + rm * 50 * PCT
    assembly = hr * 30 * PCT + dp * 55 * PCT + rm * 50 * PCT
    assert round(machining, 2) == Fraction(10727642, 100) and round(assembly, 2) == Fraction(13272358, 100)
    assert machining + assembly == 240_000  # exact, not approximately


def test_closed_loop_is_refused() -> None:
    with pytest.raises(SingularSystem, match="NET, SEC"):
        solve([[0, 1], [1, 0]], [100, 50], ["NET", "SEC"])


def test_partial_loop_solves() -> None:
    net, sec = solve([[0, Fraction(1, 2)], [Fraction(1, 4), 0]], [100, 0])
    assert net == Fraction(800, 7) and sec == Fraction(400, 7)
