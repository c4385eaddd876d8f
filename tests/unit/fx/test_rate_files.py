"""Rate files: the ECB wide layout (monthly mean of the daily rates, exact cross rates into the reporting
currency), the long layout, versioning and audit of every change, and bad files refused naming row and column."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.access.users import get_user
from engine.errors import AccessDenied, InputError
from engine.fx import rates
from tests.conftest import add_users

ECB = Path(__file__).resolve().parents[2] / "fixtures" / "ecb_eurofxref_hist_sample.csv"


@pytest.fixture
def fiona(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    add_users(con, "finops", "fiona")
    add_users(con, "executive", "eve")
    return con


def test_ecb_file_gives_monthly_means_as_usd_cross_rates(fiona: duckdb.DuckDBPyConnection) -> None:
    stored = rates.load_file(fiona, get_user(fiona, "fiona"), ECB.read_bytes(), ECB.name)
    assert (stored.layout, stored.added, stored.superseded) == ("ecb", 16, 0)   # 2 months × (EUR + 7 others)
    got = rates.in_force(fiona, "USD")
    # June 2023: USD 1.0866 and 1.0852 per EUR (mean 1.0859), NOK 11.7040 and 11.7445 (mean 11.72425); the
    # all-N/A day and the N/A-only CYP column count for nothing
    assert got[("2023-06", "EUR")] == Decimal("1.0859000000")
    assert got[("2023-06", "NOK")] == Decimal("0.0926199970")     # 1.0859 / 11.72425, half-even at 10 places
    assert got[("2023-06", "JPY")] == Decimal("0.0069145786")     # 1.0859 / 157.045
    assert ("2023-06", "CYP") not in got and ("2023-06", "USD") not in got
    assert {p for p, _ in got} == {"2023-06", "2023-07"}


def test_ecb_file_into_eur_is_the_inverse_of_the_mean(fiona: duckdb.DuckDBPyConnection,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPORTION_CURRENCY", "EUR")
    rates.load_file(fiona, get_user(fiona, "fiona"), ECB.read_bytes(), ECB.name, "ecb")
    assert rates.in_force(fiona, "EUR")[("2023-06", "NOK")] == Decimal("0.0852933023")   # 1 / 11.72425
    assert rates.in_force(fiona, "USD") == {}


def test_long_layout_versions_every_change_and_audits_it(fiona: duckdb.DuckDBPyConnection) -> None:
    fiona_user = get_user(fiona, "fiona")
    first = rates.load_file(fiona, fiona_user, b"period,currency,rate\n2023-06,NOK,0.0934\n2023-06,EUR,1.0859\n",
                            "rates.csv")
    again = rates.load_file(fiona, fiona_user, b"period,currency,rate\n2023-06,NOK,0.0935\n2023-06,EUR,1.0859\n",
                            "rates2.csv")
    assert (first.added, again.added, again.superseded, again.unchanged) == (2, 0, 1, 1)
    assert rates.in_force(fiona)[("2023-06", "NOK")] == Decimal("0.0935")
    hist = rates.table(fiona, period="2023-06", history=True).filter(currency="NOK")
    assert hist.select("rate", "version", "in_force", "source").rows() == [
        (Decimal("0.0935"), 2, True, "long:rates2.csv"), (Decimal("0.0934"), 1, False, "long:rates.csv")]
    events = fiona.sql("SELECT actor, action, detail FROM audit_event WHERE action = 'fx.rates' ORDER BY seq"
                       ).fetchall()
    assert [e[:2] for e in events] == [("fiona", "fx.rates"), ("fiona", "fx.rates")]
    assert '["2023-06","NOK","0.0934000000","0.0935000000","2"]' in events[1][2].replace(" ", "")


def test_one_rate_entered_and_refused_for_a_role_without_manage_fx(fiona: duckdb.DuckDBPyConnection) -> None:
    rates.set_rate(fiona, get_user(fiona, "fiona"), "2023-06", "nok", "0.0934")
    assert rates.in_force(fiona) == {("2023-06", "NOK"): Decimal("0.0934")}
    with pytest.raises(AccessDenied, match=r"eve \(executive\) cannot enter an FX rate"):
        rates.set_rate(fiona, get_user(fiona, "eve"), "2023-06", "NOK", "0.5")
    with pytest.raises(InputError, match="USD is the reporting currency"):
        rates.set_rate(fiona, get_user(fiona, "fiona"), "2023-06", "USD", "1")
    with pytest.raises(InputError, match="at most 10 decimals"):
        rates.set_rate(fiona, get_user(fiona, "fiona"), "2023-06", "NOK", "0.09340000001")


@pytest.mark.parametrize(("data", "message"), [
    (b"period,currency,rate\n2023-06,NOK,0.0934\n2023-6,SEK,0.09\n",
     "bad.csv: row 3, column 'period': expected a period YYYY-MM, got '2023-6'"),
    (b"period,currency,rate\n2023-06,NOKK,0.0934\n",
     "bad.csv: row 2, column 'currency': expected an ISO 4217 currency code, got 'NOKK'"),
    (b"period,currency,rate\n2023-06,NOK,-1\n",
     "bad.csv: row 2, column 'rate': expected a rate above 0 and below 100,000,000 (USD per 1 NOK), got '-1'"),
    (b"period,currency,rate\n2023-06,NOK,0.1\n2023-06,NOK,0.2\n",
     "bad.csv: row 3: expected one rate per period and currency (NOK 2023-06 is also on row 2)"),
    (b"Date,USD,NOK,\n2023-06-30,1.0866,11.70x,\n",
     "bad.csv: row 2, column 'NOK': expected a rate above 0 (NOK per 1 EUR) or N/A, got '11.70x'"),
    (b"Date,USD,NOK,\n30/06/2023,1.0866,11.7,\n",
     "bad.csv: row 2, column 'Date': expected a date YYYY-MM-DD, got '30/06/2023'"),
    (b"when,what\n1,2\n",
     "bad.csv: row 1: expected the header Date,USD,JPY,… (ECB) or period,currency,rate, got 'when,what'"),
])
def test_bad_rate_files_are_refused_whole_with_row_and_column(fiona: duckdb.DuckDBPyConnection, data: bytes,
                                                              message: str) -> None:
    with pytest.raises(InputError) as exc:
        rates.load_file(fiona, get_user(fiona, "fiona"), data, "bad.csv")
    assert str(exc.value) == message
    assert fiona.sql("SELECT count(*) FROM fx_rate").fetchall() == [(0,)]


def test_layout_named_but_not_matching_is_refused(fiona: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputError, match=r"row 1: expected the header Date,USD,JPY,… \(ECB reference rates\)"):
        rates.load_file(fiona, get_user(fiona, "fiona"), b"period,currency,rate\n2023-06,NOK,0.1\n", "r.csv", "ecb")
