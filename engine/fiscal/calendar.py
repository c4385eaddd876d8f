"""The fiscal calendar: fiscal year start and period scheme, and the date → fiscal period mapping.

The store keys every month on a `YYYY-MM` text (cost_line.billing_period, driver_value.period, allocation_run.period,
period_close.period, budget and plan rows). A fiscal period keeps that key: period n of fiscal year FYy is *slotted*
on the calendar month `start_month + n - 1` of that fiscal year, so `FY2026-P03` of a January year is the slot
`2026-03` whatever its dates. Under the `calendar` scheme a slot is exactly its month (the default, and nothing
changes); under 4-4-5, 4-5-4 and 5-4-4 a slot covers whole weeks:

- the fiscal year FYy (named by the calendar year it ends in, as depreciation always did) starts on the Monday
  nearest to the 1st of its start month, so every year has 52 or 53 weeks;
- each quarter is 13 weeks split by the pattern (4-4-5: 4, 4 and 5 weeks); a 53rd week goes to the last period.

`period_of(date)` answers which slot a day belongs to; `window(slot)` gives the slot's dates (start inclusive, end
exclusive), which month close uses to pick cost lines by their charge date (engine/allocation/pools.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

from engine.errors import InputError

Scheme = Literal["calendar", "4-4-5", "4-5-4", "5-4-4"]
SCHEMES: tuple[str, ...] = get_args(Scheme)
PATTERNS: dict[str, tuple[int, int, int]] = {"4-4-5": (4, 4, 5), "4-5-4": (4, 5, 4), "5-4-4": (5, 4, 4)}
SLOT = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
FISCAL_ID = re.compile(r"^FY(\d{4})-P(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class FiscalPeriod:
    fiscal_year: int
    number: int          # 1..12
    start: date          # inclusive
    end: date            # exclusive
    slot: str            # the YYYY-MM key the store uses for this period

    @property
    def fiscal_id(self) -> str:
        return f"FY{self.fiscal_year:04d}-P{self.number:02d}"

    @property
    def weeks(self) -> int:
        return (self.end - self.start).days // 7


def _check_start(start_month: int) -> None:
    if not 1 <= start_month <= 12:
        raise InputError(f"fiscal year start month must be 1..12, not {start_month}")


def fiscal_year_of(slot: str, start_month: int = 1) -> int:
    """The fiscal year of a `YYYY-MM` slot, named by the calendar year it ends in (FY2027 = Apr 2026 – Mar 2027
    for an April start). The same under every scheme, because slots are fiscal periods."""
    _check_start(start_month)
    year, month = _parse_slot(slot)
    return year if start_month == 1 or month < start_month else year + 1


def period_number(slot: str, start_month: int = 1) -> int:
    _check_start(start_month)
    return (_parse_slot(slot)[1] - start_month) % 12 + 1


def slot_of(fiscal_year: int, number: int, start_month: int = 1) -> str:
    """The `YYYY-MM` key of period `number` of `fiscal_year`."""
    _check_start(start_month)
    if not 1 <= number <= 12:
        raise InputError(f"a fiscal period number is 1..12, not {number}")
    first_year = fiscal_year if start_month == 1 else fiscal_year - 1
    index = first_year * 12 + (start_month - 1) + (number - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def fiscal_id(slot: str, start_month: int = 1) -> str:
    """`2026-03` → `FY2026-P03` (January start): what reports show beside the slot."""
    return f"FY{fiscal_year_of(slot, start_month):04d}-P{period_number(slot, start_month):02d}"


def to_slot(text: str, start_month: int = 1) -> str:
    """A period as a person writes it, `YYYY-MM` or `FY2026-P03`, as the store's slot."""
    t = text.strip()
    if SLOT.match(t):
        return t
    m = FISCAL_ID.match(t.upper())
    if m:
        return slot_of(int(m.group(1)), int(m.group(2)), start_month)
    raise InputError(f"a period is YYYY-MM or FY<year>-P<01-12>, not {text!r}")


def _parse_slot(slot: str) -> tuple[int, int]:
    m = SLOT.match(slot)
    if not m:
        raise InputError(f"a period is YYYY-MM, not {slot!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class FiscalCalendar:
    start_month: int = 1
    scheme: Scheme = "calendar"

    def __post_init__(self) -> None:
        _check_start(self.start_month)
        if self.scheme not in SCHEMES:
            raise InputError(f"fiscal period scheme must be one of {', '.join(SCHEMES)}, not {self.scheme!r}")

    @property
    def is_calendar(self) -> bool:
        return self.scheme == "calendar"

    def year_start(self, fiscal_year: int) -> date:
        """First day of `fiscal_year`: the 1st of its start month, or under a week scheme the Monday nearest it."""
        first = date(fiscal_year if self.start_month == 1 else fiscal_year - 1, self.start_month, 1)
        if self.is_calendar:
            return first
        back = first.weekday()             # days since the Monday on or before the 1st
        return first - timedelta(days=back) if back <= 3 else first + timedelta(days=7 - back)

    def periods(self, fiscal_year: int) -> list[FiscalPeriod]:
        """The twelve periods of a fiscal year, contiguous from its start to the next year's start."""
        if self.is_calendar:
            out: list[FiscalPeriod] = []
            for n in range(1, 13):
                slot = slot_of(fiscal_year, n, self.start_month)
                y, m = _parse_slot(slot)
                start = date(y, m, 1)
                end = date(y + m // 12, m % 12 + 1, 1)
                out.append(FiscalPeriod(fiscal_year, n, start, end, slot))
            return out
        pattern = PATTERNS[self.scheme] * 4
        start = self.year_start(fiscal_year)
        next_start = self.year_start(fiscal_year + 1)
        out = []
        for n, weeks in enumerate(pattern, 1):
            end = next_start if n == 12 else start + timedelta(weeks=weeks)   # a 53rd week joins period 12
            out.append(FiscalPeriod(fiscal_year, n, start, end, slot_of(fiscal_year, n, self.start_month)))
            start = end
        return out

    def period_of(self, day: date) -> FiscalPeriod:
        """The fiscal period a day belongs to."""
        fy = day.year + (1 if self.start_month > 1 and day.month >= self.start_month else 0)
        for year in (fy - 1, fy, fy + 1):      # week years start up to 3 days either side of the 1st
            for p in self.periods(year):
                if p.start <= day < p.end:
                    return p
        raise InputError(f"no fiscal period holds {day}")  # unreachable: the years are contiguous

    def period(self, slot: str) -> FiscalPeriod:
        """The fiscal period stored under a `YYYY-MM` slot."""
        fy = fiscal_year_of(slot, self.start_month)
        return self.periods(fy)[period_number(slot, self.start_month) - 1]

    def window(self, slot: str) -> tuple[date, date]:
        p = self.period(slot)
        return p.start, p.end


def from_settings() -> FiscalCalendar:
    """The calendar the settings describe (`fiscal_year_start_month`, `fiscal_period_scheme`)."""
    from engine.settings import get_settings

    s = get_settings()
    return FiscalCalendar(s.fiscal_year_start_month, s.fiscal_period_scheme)
