"""Test rates for the fixture files billed in other currencies than the reporting one (USD).

Tests about something other than FX (hostile files, connectors, backups…) load fixtures billed in EUR, GBP, CAD…
Since issue 11 a line without a rate for its currency and month is quarantined (tests/unit/fx/ proves that), so
these tests state the rates they run with — round, made-up test rates, never real ones — through the same
`engine.fx.rates.store_rates` a rate file goes through. NOK and SEK are left out on purpose: the FX tests use
them as the currencies without a rate.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb

from engine.fx import rates
from engine.fx.ecb import MonthlyRate

TEST_RATES: dict[str, Decimal] = {"EUR": Decimal("1.1"), "GBP": Decimal("1.25"), "CAD": Decimal("0.75"),
                                  "AUD": Decimal("0.65"), "JPY": Decimal("0.007"), "CHF": Decimal("1.125"),
                                  "INR": Decimal("0.012"), "BRL": Decimal("0.2")}
YEARS = range(2018, 2028)


def seed_test_rates(con: duckdb.DuckDBPyConnection, reporting: str = "USD") -> None:
    """Every month of YEARS for each TEST_RATES currency, in `reporting` (one transaction, audited as 'test')."""
    month_rates = [MonthlyRate(f"{y}-{m:02d}", cur, rate) for y in YEARS for m in range(1, 13)
                   for cur, rate in TEST_RATES.items() if cur != reporting]
    rates.store_rates(con, "test", month_rates, "test rates (tests/fx_rates.py)", reporting)
