"""The close's cheap scans of the month's lines answer exactly what the full scans answered: the batches behind the
run key, the currency guard and the FX rates used — for the usual month (one batch, one currency) by their shortcut,
and for every other case by the full query."""

from __future__ import annotations

import duckdb
import pytest

from engine.allocation import currency
from engine.allocation.backends.duckdb_sql import DuckDBPoolSource
from engine.errors import AllocationError

PERIOD = "2026-10"


def _line(con: duckdb.DuckDBPyConnection, batch: str | None, currency_: str = "USD", fx: str | None = None,
          period: str = PERIOD) -> None:
    con.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, billed_cost,"
                " effective_cost, billing_currency, batch_id, fx_detail) VALUES (?, '2026-10-02', '2026-10-03', 'AWS',"
                " 10, 10, ?, ?, ?)", [period, currency_, batch, fx])


def _distinct(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The full query the shortcut stands in for."""
    return tuple(str(r[0]) for r in con.sql("SELECT DISTINCT batch_id FROM cost_line WHERE billing_period = ? "
                                            "ORDER BY 1", params=[PERIOD]).fetchall())


@pytest.mark.parametrize("batches", [[], ["b1"], ["b1", "b1", "b1"], ["b2", "b1", "b2"], ["b1", None], [None]])
def test_cost_batches_equal_the_distinct_batches(con: duckdb.DuckDBPyConnection, batches: list[str | None]) -> None:
    for b in batches:
        _line(con, b)
    _line(con, "other-month", period="2026-09")
    got = DuckDBPoolSource(con).cost_batches(PERIOD)
    assert got == _distinct(con)
    assert len(got) == len(set(batches))


def test_one_currency_month_passes_and_uses_no_rate(con: duckdb.DuckDBPyConnection) -> None:
    _line(con, "b1")
    currency.guard(con, PERIOD, "USD")
    assert currency.rates_used(con, PERIOD) == []


def test_a_line_billed_in_the_reporting_currency_but_converted_to_another_is_refused(
        con: duckdb.DuckDBPyConnection) -> None:
    # billed in USD, yet its FX record says it was converted into EUR: the billing currency alone would pass it
    _line(con, "b1")
    _line(con, "b2", "USD", '{"reporting_currency": "EUR", "fx_rate": "0.9", "billed_cost": "11.11"}')
    with pytest.raises(AllocationError, match=r"not all in the reporting currency USD \(1 line\(s\) in EUR"):
        currency.guard(con, PERIOD, "USD")


def test_converted_lines_name_their_rate(con: duckdb.DuckDBPyConnection) -> None:
    _line(con, "b1")
    _line(con, "b2", "NOK", '{"reporting_currency": "USD", "fx_rate": "0.0926", "billed_cost": "108"}')
    _line(con, "b2", "NOK", '{"reporting_currency": "USD", "fx_rate": "0.0926", "billed_cost": "108"}')
    currency.guard(con, PERIOD, "USD")
    assert currency.rates_used(con, PERIOD) == [["NOK", "0.0926000000", "2"]]
    with pytest.raises(AllocationError, match=r"EUR \(3 line\(s\) in USD \(billed in NOK, USD\)\)"):
        currency.guard(con, PERIOD, "EUR")
