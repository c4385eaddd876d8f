"""The ECB euro foreign exchange reference rates as published (eurofxref-hist.csv / eurofxref.csv): a wide
layout `Date,USD,JPY,…` with one row per business day, each cell the units of that currency per 1 EUR, `N/A` (or
empty) where none was published, and often a trailing empty column.

Monthly rule (docs/fx.md): the rate of a month is the arithmetic mean of the month's published daily rates (the
ECB's own monthly average), computed in exact decimals and rounded half-even to 10 places only at the end.
Cross rates, when the reporting currency R is not EUR: rate(C) = mean(R per EUR) / mean(C per EUR), i.e. the ratio
of the two monthly means (never a mean of daily ratios), exact decimal division rounded half-even to 10 places;
rate(EUR) = mean(R per EUR); R = EUR: rate(C) = 1 / mean(C per EUR).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from engine.errors import InputError
from engine.ingest.contract.currencies import ISO_4217

BASE = "EUR"
QUANTUM = Decimal("1e-10")
CODE = re.compile(r"^[A-Z]{3}$")
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class MonthlyRate:
    period: str        # YYYY-MM
    currency: str      # ISO 4217
    rate: Decimal      # reporting-currency units per 1 unit of `currency`


def is_ecb_header(header: list[str]) -> bool:
    return bool(header) and header[0].strip().lower() == "date" and any(
        h.strip().upper() in ISO_4217 for h in header[1:])


def monthly_means(rows: list[list[str]], file_name: str) -> dict[tuple[str, str], Decimal]:
    """(period, currency) → mean of the month's daily rates per 1 EUR (exact, not yet rounded). `rows[0]` is the
    header; a bad cell is refused naming file, row (1-based, header = 1), column and what was expected."""
    header = [h.strip() for h in rows[0]]
    columns: list[tuple[int, str]] = []
    for i, h in enumerate(header[1:], start=1):
        if not h:
            continue   # the published file ends every line with a comma
        code = h.upper()
        if not CODE.match(code):   # retired codes (CYP, SIT, …) are in the history: kept, never matched by a bill
            raise InputError(f"{file_name}: row 1, column {i + 1} ('{h[:20]}'): expected a three-letter currency "
                             "code as the header of an ECB rates column")
        columns.append((i, code))
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        day = row[0].strip()
        m = DATE.match(day)
        if not m or not (1 <= int(m.group(2)) <= 12):
            raise InputError(f"{file_name}: row {n}, column 'Date': expected a date YYYY-MM-DD, got '{day[:40]}'")
        period = f"{m.group(1)}-{m.group(2)}"
        for i, code in columns:
            cell = row[i].strip() if i < len(row) else ""
            if cell in ("", "N/A", "NA", "-"):
                continue
            value = _positive(cell)
            if value is None:
                raise InputError(f"{file_name}: row {n}, column '{header[i]}': expected a rate above 0 "
                                 f"({code} per 1 EUR) or N/A, got '{cell[:40]}'")
            sums[(period, code)] += value
            counts[(period, code)] += 1
    with localcontext() as ctx:
        ctx.prec = 60
        return {k: sums[k] / counts[k] for k in sums}


def to_reporting(means: dict[tuple[str, str], Decimal], reporting: str) -> list[MonthlyRate]:
    """Monthly means per EUR → rates in `reporting` units per 1 unit of each currency (cross rates as documented
    above); the reporting currency itself is left out (its rate is 1 by definition). A month without a published
    rate for the reporting currency gives no cross rates for that month."""
    out: list[MonthlyRate] = []
    periods = sorted({p for p, _ in means})
    with localcontext() as ctx:
        ctx.prec = 60
        for period in periods:
            r_per_eur = Decimal(1) if reporting == BASE else means.get((period, reporting))
            if r_per_eur is None:
                continue
            if reporting != BASE:
                out.append(MonthlyRate(period, BASE, _q(r_per_eur)))
            for (p, code), c_per_eur in sorted(means.items()):
                if p != period or code == reporting:
                    continue
                out.append(MonthlyRate(period, code, _q(r_per_eur / c_per_eur)))
    return out


def _q(x: Decimal) -> Decimal:
    return x.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def _positive(cell: str) -> Decimal | None:
    try:
        value = Decimal(cell)
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None
