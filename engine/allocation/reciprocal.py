"""Reciprocal allocation between mutual service departments: solve (I − Sᵀ) x = d exactly.

S[i][j] is the fraction of department i's total cost that it provides to department j. The solve uses exact
fractions (Gauss-Jordan over `fractions.Fraction`) rather than floating point: service blocks are small (a few
departments) and money must reconcile to the cent. A singular system (a closed loop that never reaches a
paying department) is refused with a message instead of producing infinities.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from engine.errors import InputError

Number = Fraction | Decimal | int


class SingularSystem(InputError):
    """The departments in a reciprocal group pass all their cost among themselves: no unique solution exists."""


def _frac(v: Number) -> Fraction:
    return v if isinstance(v, Fraction) else Fraction(v)


def inverse_of_i_minus_st(
    shares: Sequence[Sequence[Number]], names: Sequence[str] | None = None
) -> list[list[Fraction]]:
    """(I − Sᵀ)⁻¹, exactly; raises SingularSystem naming the departments involved."""
    n = len(shares)
    a = [[(Fraction(1) if i == j else Fraction(0)) - _frac(shares[j][i]) for j in range(n)] for i in range(n)]
    inv = [[Fraction(int(i == j)) for j in range(n)] for i in range(n)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if a[r][col] != 0), None)
        if pivot is None:
            who = ", ".join(names) if names else f"{n} departments"
            raise SingularSystem(
                f"reciprocal group ({who}) is singular: these departments send all of their cost to each other, "
                "so no share ever reaches a paying target; give at least one of them a final target"
            )
        a[col], a[pivot] = a[pivot], a[col]
        inv[col], inv[pivot] = inv[pivot], inv[col]
        p = a[col][col]
        a[col] = [v / p for v in a[col]]
        inv[col] = [v / p for v in inv[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col], strict=True)]
                inv[r] = [x - f * y for x, y in zip(inv[r], inv[col], strict=True)]
    return inv


def solve(shares: Sequence[Sequence[Number]], direct: Sequence[Number], names: Sequence[str] | None = None,
          ) -> list[Fraction]:
    """Total cost x of each department once the mutual services are taken into account: x = d + Sᵀx."""
    inv = inverse_of_i_minus_st(shares, names)
    d = [_frac(v) for v in direct]
    x = [sum((inv[i][j] * d[j] for j in range(len(d))), Fraction(0)) for i in range(len(d))]
    if any(v * dv < 0 for v, dv in zip(x, d, strict=True) if dv != 0) and all(dv >= 0 for dv in d):
        raise SingularSystem("reciprocal group does not converge: shares between departments exceed 100 %")
    return x
