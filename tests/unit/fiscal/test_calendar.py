"""The fiscal calendar: calendar months stay months; 4-4-5 weeks map dates to periods across a year boundary."""

from __future__ import annotations

from datetime import date

import pytest

from engine.costmodels.depreciation import fiscal_year_of as depreciation_fiscal_year
from engine.errors import InputError
from engine.fiscal.calendar import FiscalCalendar, fiscal_id, fiscal_year_of, to_slot


def test_calendar_scheme_slots_are_the_months() -> None:
    cal = FiscalCalendar(1, "calendar")
    assert cal.window("2026-02") == (date(2026, 2, 1), date(2026, 3, 1))
    assert cal.period_of(date(2025, 12, 31)).slot == "2025-12"
    assert fiscal_id("2026-03") == "FY2026-P03"
    april = FiscalCalendar(4, "calendar")
    assert april.period_of(date(2026, 4, 1)).fiscal_id == "FY2027-P01"
    assert april.period_of(date(2026, 3, 31)).fiscal_id == "FY2026-P12"
    assert to_slot("FY2027-P01", 4) == "2026-04" and to_slot("2026-04", 4) == "2026-04"


def test_four_four_five_maps_dates_across_the_year_boundary() -> None:
    cal = FiscalCalendar(1, "4-4-5")
    # 1 Jan 2026 is a Thursday: FY2026 starts on the nearest Monday, 29 Dec 2025; FY2027 on Mon 4 Jan 2027
    assert cal.year_start(2026) == date(2025, 12, 29)
    assert cal.year_start(2027) == date(2027, 1, 4)
    assert cal.period_of(date(2025, 12, 28)).fiscal_id == "FY2025-P12"   # Sunday: last day of FY2025
    p = cal.period_of(date(2025, 12, 30))                                # Tuesday in December: already FY2026
    assert (p.fiscal_id, p.slot, p.start, p.end) == ("FY2026-P01", "2026-01", date(2025, 12, 29), date(2026, 1, 26))
    assert cal.period_of(date(2026, 1, 26)).fiscal_id == "FY2026-P02"
    weeks = [q.weeks for q in cal.periods(2026)]
    assert weeks == [4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 6]                 # a 53-week year: the extra week ends it
    assert cal.period_of(date(2027, 1, 3)).fiscal_id == "FY2026-P12"
    assert cal.period_of(date(2027, 1, 4)).fiscal_id == "FY2027-P01"
    assert [q.weeks for q in cal.periods(2027)][:3] == [4, 4, 5] and sum(q.weeks for q in cal.periods(2027)) == 52


def test_periods_are_contiguous_and_other_patterns() -> None:
    for scheme, first_quarter in (("4-5-4", [4, 5, 4]), ("5-4-4", [5, 4, 4])):
        cal = FiscalCalendar(7, scheme)  # type: ignore[arg-type]
        ps = cal.periods(2026)
        assert [p.weeks for p in ps][:3] == first_quarter
        assert all(a.end == b.start for a, b in zip(ps, ps[1:], strict=False))
        assert ps[0].start == cal.year_start(2026) and ps[-1].end == cal.year_start(2027)
        assert ps[0].slot == "2025-07" and ps[0].fiscal_id == "FY2026-P01"


def test_depreciation_uses_the_calendars_fiscal_year() -> None:
    for slot, start in (("2026-03", 4), ("2026-04", 4), ("2026-12", 1), ("2026-07", 7)):
        assert depreciation_fiscal_year(slot, start) == fiscal_year_of(slot, start)
    assert fiscal_year_of("2026-04", 4) == 2027


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError):
        FiscalCalendar(13, "calendar")
    with pytest.raises(InputError):
        FiscalCalendar(1, "4-4-4")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        to_slot("FY2026-P13")
