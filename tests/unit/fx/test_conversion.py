"""Conversion at ingest: a file with two currencies posts reporting-currency amounts (to the cent and exactly)
and keeps the billing amounts; without a rate the foreign lines are quarantined naming currency and period while
the good rows load; a month close refuses lines in another reporting currency, and its key moves with the rates."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.access.users import get_user
from engine.allocation.runs import run_allocation
from engine.errors import AllocationError
from engine.fx import rates
from engine.ingest.pipeline import ingest_file, rollback_batch
from engine.rules import model
from tests.conftest import add_users

HEADER = ("ServiceProviderName,BillingAccountId,BillingCurrency,BillingPeriodStart,ChargePeriodStart,"
          "ChargePeriodEnd,BilledCost,EffectiveCost,ListCost,Tags\n")
TAGS = '"{""cost_center"": ""HR""}"'


def _file(tmp_path: Path) -> Path:
    f = tmp_path / "two_currencies.csv"
    f.write_text(HEADER
                 + f"Acme,BA,USD,2023-06-01,2023-06-01,2023-06-02,10.00,9.50,12.00,{TAGS}\n"
                 + f"Acme,BA,NOK,2023-06-01,2023-06-02,2023-06-03,100.00,95.50,120.00,{TAGS}\n"
                 + f"Acme,BA,NOK,2023-06-01,2023-06-03,2023-06-04,0.07,0.07,,{TAGS}\n")
    return f


@pytest.fixture
def fiona(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    add_users(con, "finops", "fiona")
    return con


def _lines(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.sql("SELECT billing_currency, billed_cost, effective_cost, list_cost, billed_cost_billing, "
                   "effective_cost_billing, list_cost_billing, fx_rate, reporting_currency FROM cost_line "
                   "ORDER BY charge_period_start").fetchall()


@pytest.mark.parametrize("isolate", [False, True])
def test_two_currencies_convert_with_the_stored_rate(fiona: duckdb.DuckDBPyConnection, tmp_path: Path,
                                                     isolate: bool) -> None:
    rates.set_rate(fiona, get_user(fiona, "fiona"), "2023-06", "NOK", "0.0926199970")
    res = ingest_file(fiona, _file(tmp_path), isolate=isolate)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 3, 0), res.messages
    d = Decimal
    r = d("0.0926199970")
    assert _lines(fiona) == [
        ("USD", d("10"), d("9.5"), d("12"), d("10"), d("9.5"), d("12"), d(1), "USD"),
        # 100 NOK × 0.0926199970 = 9.2619997 USD; 95.50 → 8.84520971350; 120 → 11.1143996400
        ("NOK", d("9.2619997000"), d("8.8452097135"), d("11.1143996400"), d("100"), d("95.5"), d("120"), r, "USD"),
        ("NOK", d("0.0064833998"), d("0.0064833998"), None, d("0.07"), d("0.07"), None, r, "USD"),
    ]
    # what a user checks: the month in USD to the cent, and the bill in NOK as it was
    assert fiona.sql("SELECT round(sum(billed_cost), 2), round(sum(effective_cost), 2) FROM cost_line"
                     ).fetchall() == [(d("19.27"), d("18.35"))]   # 18.3516931133
    assert fiona.sql("SELECT sum(billed_cost_billing) FROM cost_line WHERE billing_currency = 'NOK'"
                     ).fetchall() == [(d("100.07"),)]


def test_without_a_rate_foreign_lines_are_quarantined_and_good_rows_kept(fiona: duckdb.DuckDBPyConnection,
                                                                          tmp_path: Path) -> None:
    rates.set_rate(fiona, get_user(fiona, "fiona"), "2023-07", "NOK", "0.09")   # another month: no help
    res = ingest_file(fiona, _file(tmp_path), isolate=True)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 1, 2), res.messages
    reason = ("no FX rate for NOK in 2023-06 (reporting currency USD): load one on FX rates or with python -m "
              "engine fx load FILE")
    assert fiona.sql("SELECT row_number, column_name, reason FROM quarantine_row ORDER BY 1").fetchall() == [
        (2, "billing_currency", reason), (3, "billing_currency", reason)]
    assert _lines(fiona)[0][:2] == ("USD", Decimal("10"))
    lacking = rates.missing(fiona)
    assert lacking.rows() == [("2023-06", "NOK", "quarantined", 2)]


def _rule_set() -> model.RuleSet:
    return model.from_data({"name": "fx", "mode": "step_down", "steps": [
        {"id": "hr", "name": "HR", "source": {"filters": [{"field": "tag_cost_center", "value": "HR"}]},
         "method": {"kind": "fixed", "split": {"Machining": 60, "Assembly": 40}}}]})


def _org(con: duckdb.DuckDBPyConnection) -> None:
    for cc in ("HR", "Machining", "Assembly"):
        con.execute("INSERT INTO org_unit VALUES (?, ?, 'cost_center', NULL, NULL)", [cc, cc])


def test_run_key_moves_with_the_rate_of_reloaded_lines(fiona: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _org(fiona)
    fiona_user = get_user(fiona, "fiona")
    rates.set_rate(fiona, fiona_user, "2023-06", "NOK", "0.09")
    first = ingest_file(fiona, _file(tmp_path), isolate=False)
    run1 = run_allocation(fiona, "2023-06", _rule_set(), basis="billed", actor="fiona")
    assert run1.total_in == Decimal("10") + Decimal("9.0063")            # 10 USD + 100.07 NOK × 0.09
    rates.set_rate(fiona, fiona_user, "2023-06", "NOK", "0.1")
    rollback_batch(fiona, str(first.batch_id), "fiona", "new NOK rate")
    assert ingest_file(fiona, _file(tmp_path), isolate=False).status == "loaded"
    run2 = run_allocation(fiona, "2023-06", _rule_set(), basis="billed", actor="fiona")
    assert run2.total_in == Decimal("20.007") and run2.run_key != run1.run_key
    assert fiona.sql("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ?",
                     params=[run2.run_key]).fetchall() == [(Decimal("20.01"),)]


def test_allocation_refuses_a_month_in_two_reporting_currencies(fiona: duckdb.DuckDBPyConnection,
                                                               tmp_path: Path) -> None:
    _org(fiona)
    rates.set_rate(fiona, get_user(fiona, "fiona"), "2023-06", "NOK", "0.09")
    assert ingest_file(fiona, _file(tmp_path), isolate=False).status == "loaded"
    # a line written before FX (migrated: no fx_detail, so its reporting currency is its billing currency and its
    # rate 1) in the same month
    fiona.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, "
                  "billed_cost, effective_cost, billing_currency, tag_cost_center, batch_id) VALUES "
                  "('2023-06', '2023-06-05', '2023-06-06', 'Old', 500, 500, 'SEK', 'HR', 'old')")
    assert fiona.sql("SELECT reporting_currency, fx_rate FROM cost_line WHERE batch_id = 'old'").fetchall() == [
        ("SEK", Decimal(1))]
    with pytest.raises(AllocationError) as exc:
        run_allocation(fiona, "2023-06", _rule_set(), actor="fiona")
    assert str(exc.value).startswith("cannot allocate 2023-06: its cost lines are not all in the reporting "
                                     "currency USD (1 line(s) in SEK (billed in SEK));")
    assert fiona.sql("SELECT count(*) FROM allocation_run").fetchall() == [(0,)]
    assert json.loads(json.dumps(rates.missing(fiona).rows(), default=str)) == [
        ["2023-06", "SEK", "loaded, not converted", 1]]
