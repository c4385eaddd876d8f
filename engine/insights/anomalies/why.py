"""The answer to "why did it move": named parts in integer cents that add up to the change, and the sentence that
names the main cause. Shared by the allocated-charge decomposition (decompose.py) and the spend split
(spend_split.py); no store, no SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from engine.errors import AllocationError

MONEY = pl.Decimal(18, 2)


def dollars(cents: int) -> str:
    """+$1,234.56 / -$7.00: signed, for sentences (a change is always shown with its sign)."""
    sign = "-" if cents < 0 else "+"
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


@dataclass(frozen=True)
class Split:
    """`parts` (name → cents, in the documented order) add up to `change` exactly (checked on construction)."""

    change: int                    # cents: after − before
    parts: dict[str, int]
    titles: dict[str, str]         # part name → what a reader calls it ("usage", "unit rate", …)
    before_label: str              # what the change is measured from ("2026-05", "the 3 months before, scaled")
    after_label: str

    def __post_init__(self) -> None:
        if sum(self.parts.values()) != self.change:
            raise AllocationError(f"the parts ({sum(self.parts.values())} cents) do not add up to the change "
                                  f"({self.change} cents)")

    @property
    def main(self) -> str | None:
        """The part that carries most of the change: the largest part with the change's sign (ties: the first in
        the documented order); None when nothing moved."""
        if self.change == 0:
            return None
        sign = 1 if self.change > 0 else -1
        best = max(self.parts, key=lambda p: (self.parts[p] * sign, -list(self.parts).index(p)))
        return best if self.parts[best] * sign > 0 else None

    def sentence(self, fmt: Callable[[int], str] = dollars) -> str:
        """'Mostly usage: +$X of +$Y, 2026-06 against 2026-05.' (or 'All usage', 'No change'); `fmt` writes signed
        cents (the page passes its currency). Built from titles the code chose."""
        when = f"{self.after_label} against {self.before_label}"
        if self.change == 0:
            return f"No change: {when}."
        main = self.main
        if main is None:
            return f"{fmt(self.change)} with no single cause: {when}."
        head = "All" if self.parts[main] == self.change else "Mostly"
        return f"{head} {self.titles[main]}: {fmt(self.parts[main])} of {fmt(self.change)}, {when}."

    def frame(self) -> pl.DataFrame:
        """One row per part (title, amount in currency units, share of the change in %), then the total."""
        names = list(self.parts)
        cents = [self.parts[n] for n in names] + [self.change]
        share = [round(100 * c / self.change, 1) if self.change else None for c in cents]
        return pl.DataFrame({
            "part": [self.titles[n] for n in names] + ["Total change"],
            "amount": [Decimal(c).scaleb(-2) for c in cents],
            "share_pct": share,
        }, schema={"part": pl.Utf8, "amount": MONEY, "share_pct": pl.Float64})
