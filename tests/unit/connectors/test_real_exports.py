"""Every real export in ../shared/samples/real, and the OCI cost report beside them, through the real pipeline
(`ingest_file`): a billing file loads with as many rows as the raw file and the same totals to the cent per currency,
computed here from the raw file with csv/json and Decimal — never with connector code — or it is refused with the
exact message (file, row, column, what was expected); an inventory/usage file loads its records with the right
fields. Then the targeted cases behind issue 11: slash dates never land outside their year, mixed line endings load
whole, short rows, Python-repr credits, and the FOCUS-version-aware ProviderName warning.

The files are read where they are (never copied into the project); a bare clone skips each test that names them
(tests/conftest.py)."""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors._kit.billing_sql import json_or_pyrepr
from engine.fx import rates
from engine.fx.ecb import MonthlyRate
from engine.ingest.contract.rules import ISO_FORMATS, US_FORMATS, parse_timestamp
from engine.ingest.contract.safe_read import describe_csv_error
from engine.ingest.pipeline import IngestResult, ingest_file
from tests.conftest import SAMPLES

REAL = SAMPLES / "real"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

Totals = dict[str, tuple[int, Decimal, Decimal]]


# ---- an independent reading of the raw files ------------------------------------------------------------------

def _rows(path: Path) -> list[dict[str, str]]:
    """Data rows as dicts (Python's csv: BOM dropped, any line ending, a missing trailing cell is '')."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, restval="")
        return [dict(r) for r in reader]


def _col(row: dict[str, str], *names: str) -> str:
    """A column by any of its spellings, case-insensitively; a localised header 'Name (English)' counts as English."""
    by = {}
    for k, v in row.items():
        key = k.strip()
        by[key.lower()] = v
        if key.endswith(")") and " (" in key:
            by[key.rsplit(" (", 1)[1][:-1].lower()] = v
    for n in names:
        if n.lower() in by:
            return by[n.lower()] or ""
    return ""


def _q(x: Decimal) -> Decimal:
    """One source amount at the store's scale (DECIMAL(38, 10)), rounded half away from zero."""
    return x.quantize(Decimal("1e-10"), rounding=ROUND_HALF_UP)


def _dec(text: str) -> Decimal:
    return _q(Decimal(text)) if text.strip() else Decimal(0)


def _cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _add(out: dict[str, list[Any]], currency: str, billed: Decimal, effective: Decimal) -> None:
    acc = out.setdefault(currency, [0, Decimal(0), Decimal(0)])
    acc[0] += 1
    acc[1] += billed
    acc[2] += effective


def _done(out: dict[str, list[Any]]) -> Totals:
    return {c: (n, b, e) for c, (n, b, e) in out.items()}


def _to_cents(t: Totals) -> Totals:
    return {c: (n, _cents(b), _cents(e)) for c, (n, b, e) in t.items()}


def _cur(path: Path) -> Totals:
    """AWS CUR amortised cost for the line item types these files hold (samples README); another type fails the
    test rather than being summed wrongly."""
    out: dict[str, list[Any]] = {}
    for r in _rows(path):
        kind = _col(r, "lineItem/LineItemType", "line_item_line_item_type")
        billed = _dec(_col(r, "lineItem/UnblendedCost", "line_item_unblended_cost"))
        if kind == "Usage":
            effective = billed
        elif kind == "SavingsPlanCoveredUsage":
            effective = _dec(_col(r, "savingsPlan/SavingsPlanEffectiveCost"))
        else:
            raise AssertionError(f"line item type {kind} is not covered by this test")
        _add(out, _col(r, "lineItem/CurrencyCode", "line_item_currency_code"), billed, effective)
    return _done(out)


def _azure(path: Path, *, amortised: bool, currency: str | None = None) -> Totals:
    """Azure cost details: actual export → reservation/savings-plan purchases are not effective cost; amortised →
    committed usage and unused commitment are not billed (Microsoft's documentation, samples README)."""
    out: dict[str, list[Any]] = {}
    for r in _rows(path):
        cost = _dec(_col(r, "CostInBillingCurrency", "Cost", "PreTaxCost"))
        charge = _col(r, "ChargeType").lower()
        committed = _col(r, "PricingModel").lower().replace(" ", "") in ("reservation", "savingsplan")
        if amortised:
            unbilled = charge in ("unusedreservation", "unusedsavingsplan") or (charge == "usage" and committed)
            billed, effective = (Decimal(0) if unbilled else cost), cost
        else:
            billed, effective = cost, (Decimal(0) if charge == "purchase" and committed else cost)
        _add(out, currency or _col(r, "BillingCurrencyCode", "BillingCurrency", "Currency").upper(), billed,
             effective)
    return _done(out)


def _gcp(path: Path) -> Totals:
    """GCP: effective = cost + Σ credits.amount; credits as JSON or a Python-repr list (read with ast here)."""
    out: dict[str, list[Any]] = {}
    for r in _rows(path):
        cost = _dec(r["cost"])
        text = r["credits"].strip()
        credits = (json.loads(text) if text.startswith('[{"') else ast.literal_eval(text)) if text else []
        _add(out, r["currency"], cost, cost + sum((_q(Decimal(str(c["amount"]))) for c in credits), Decimal(0)))
    return _done(out)


def _oci(path: Path) -> Totals:
    out: dict[str, list[Any]] = {}
    for r in _rows(path):
        cost = _dec(r["cost/myCost"])
        _add(out, r["cost/currencyCode"], cost, cost)
    return _done(out)


def _loaded(con: duckdb.DuckDBPyConnection) -> Totals:
    """Per billing currency, the amounts as the file said them (kept in *_billing beside the converted ones)."""
    rows = con.sql("SELECT billing_currency, count(*), sum(billed_cost_billing), sum(effective_cost_billing) "
                   "FROM cost_line GROUP BY 1").fetchall()
    return {c: (int(n), Decimal(b), Decimal(e)) for c, n, b, e in rows}


def _reporting(con: duckdb.DuckDBPyConnection) -> tuple[Decimal, Decimal]:
    """The whole file in the reporting currency (USD), to the cent."""
    b, e = con.sql("SELECT sum(billed_cost), sum(effective_cost) FROM cost_line").fetchall()[0]
    return _cents(Decimal(b)), _cents(Decimal(e))


# the test's own FX rates (USD per 1 unit), loaded before the file: the ECB June 2023 mean cross rate for NOK
RATES: dict[str, dict[str, Decimal]] = {
    "aws_cur_legacy_koku_2023-06-01_savingsplan_nok.csv": {"2023-06": Decimal("0.0926199970")},
}
NOK_FILE = "aws_cur_legacy_koku_2023-06-01_savingsplan_nok.csv"


# ---- billing files that load ----------------------------------------------------------------------------------

# file → (raw totals, options, billing periods the rows belong to, isolate: through the sandboxed child)
LOADS: dict[str, tuple[Callable[[Path], Totals], dict[str, Any], set[str], bool]] = {
    "aws_cur_legacy_koku_2023-06-01_savingsplan_nok.csv": (_cur, {}, {"2023-06"}, False),
    "aws_cur_legacy_koku_test_cur.csv": (_cur, {}, {"2018-06"}, True),     # header 131 columns, rows 130
    "aws_cur_snake_case_koku_2022-07-01.csv": (_cur, {}, {"2022-07"}, False),
    "azure_ea_actual_finops_toolkit.csv": (partial(_azure, amortised=False), {}, {"2023-09"}, False),
    "azure_ea_amortized_finops_toolkit.csv": (partial(_azure, amortised=True), {}, {"2023-09"}, False),
    "azure_mca_camel_koku.csv": (partial(_azure, amortised=False), {}, {"2023-08"}, True),   # CRLF + LF
    "azure_mca_partner_camel_opencost.csv": (partial(_azure, amortised=False), {}, {"2021-02"}, False),
    "azure_payg_bom_koku.csv": (partial(_azure, amortised=False), {}, {"2019-07"}, False),
    "azure_payg_german_headers_opencost.csv": (partial(_azure, amortised=False), {}, {"2021-02"}, False),
    "azure_payg_legacy_opencost.csv": (partial(_azure, amortised=False), {}, {"2021-02"}, False),
    "azure_billing_export_opencost_template.csv": (partial(_azure, amortised=False, currency="USD"),
                                                   {"currency": "USD"}, {"2021-02"}, False),
    "gcp_billing_flat_koku_202011.csv": (_gcp, {}, {"2020-11"}, True),     # Python-repr credits and labels
    "gcp_billing_flat_koku_2022-08.csv": (_gcp, {}, {"2022-08"}, False),
    "../oci_cost_report_sample.csv": (_oci, {}, {"2023-11"}, True),
}


@pytest.mark.parametrize("name", sorted(LOADS))
def test_billing_export_loads_with_the_raw_totals(con: duckdb.DuckDBPyConnection, name: str) -> None:
    path = REAL / name
    raw_totals, options, periods, isolate = LOADS[name]
    expected = raw_totals(path)
    for period, rate in RATES.get(name, {}).items():
        for currency in expected:
            rates.store_rates(con, "test", [MonthlyRate(period, currency, rate)], "test", "USD")
    res = ingest_file(con, path, isolate=isolate, options=options)
    assert res.status == "loaded", res.messages
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (len(_rows(path)), len(_rows(path)), 0)
    loaded = _loaded(con)
    assert _to_cents(loaded) == _to_cents(expected)   # per billing currency, to the cent
    assert loaded == expected                         # and exactly, each line at the store's ten decimals
    # in the reporting currency: USD files as they are, the NOK file at the test's rate (to the cent)
    rate = next(iter(RATES[name].values())) if name in RATES else Decimal(1)
    assert _reporting(con) == (_cents(sum(b for _, b, _ in expected.values()) * rate),
                               _cents(sum(e for _, _, e in expected.values()) * rate))
    assert con.sql("SELECT DISTINCT reporting_currency, fx_rate FROM cost_line").fetchall() == [("USD", rate)]
    got_periods = {p for (p,) in con.sql("SELECT DISTINCT billing_period FROM cost_line").fetchall()}
    assert got_periods == periods
    # every charge period lies in its billing period's year, never in a guessed century
    assert con.sql("SELECT count(*) FROM cost_line WHERE year(charge_period_start) <> "
                   "CAST(left(billing_period, 4) AS INTEGER)").fetchall() == [(0,)]


def test_the_nok_file_without_a_rate_is_quarantined_with_the_fx_reason(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, REAL / NOK_FILE, isolate=True)
    reason = ("no FX rate for NOK in 2023-06 (reporting currency USD): load one on FX rates or with python -m "
              "engine fx load FILE")
    assert res.status == "refused"   # every row quarantined: nothing to load
    assert res.problems == [f"{NOK_FILE}: row {i}, column 'billing_currency': {reason}" for i in (1, 2, 3)]
    assert con.sql("SELECT count(*) FROM cost_line").fetchall() == [(0,)]


# ---- billing files that are refused, with the exact reason ----------------------------------------------------

REFUSED: dict[str, str] = {
    "azure_ea_v2_koku.csv":
        "azure_ea_v2_koku.csv: at least one valid row: all 5 rows failed validation (first: azure_ea_v2_koku.csv: "
        "row 1, column 'BillingCurrencyCode': expected an ISO 4217 currency code, got MC)",
    "focus_spec_saas_spend_agreements_b2.csv":
        "focus_spec_saas_spend_agreements_b2.csv: at least one valid row: all 14 rows failed validation (first: "
        "focus_spec_saas_spend_agreements_b2.csv: row 1, column 'BillingPeriodStart': expected a date/time in ISO "
        "8601 such as 2024-09-01T00:00:00Z (FOCUS requires it; a slash date's day/month order and century would "
        "be a guess), got 4/1/25)",
    "focus_spec_cdf_2_resources.csv":
        "focus_spec_cdf_2_resources.csv: row 1, column 'BillingCurrency': a column named 'BillingCurrency' "
        "(missing; the header has: BilledCost, BillingPeriodEnd, BillingPeriodStart, ChargeCategory, ChargeFrequency, "
        "ChargePeriodEnd, ChargePeriodStart, CommitmentDiscountCategory, CommitmentDiscountId, "
        "CommitmentDiscountQuantity, CommitmentDiscountStatus, CommitmentDiscountUnit, …)",
    # without the user naming its currency; with it, LOADS above
    "azure_billing_export_opencost_template.csv":
        "azure_billing_export_opencost_template.csv: row 1, column 'BillingCurrency': a column named "
        "'BillingCurrencyCode' or 'BillingCurrency' or 'Currency' (the header has: AdditionalInfo, "
        "ConsumedService, InstanceId, MeterCategory, Tags, UsageDateTime, billingaccountid, costinbillingcurrency, "
        "paygcostinbillingcurrency, resourcelocation, subscriptionid); this export does not say its currency — "
        "name it (option currency, e.g. USD) to load it",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_billing_export_refused_with_the_exact_reason(con: duckdb.DuckDBPyConnection, name: str) -> None:
    res = ingest_file(con, REAL / name, isolate=False)
    assert (res.status, res.messages) == ("refused", [REFUSED[name]])
    assert con.sql("SELECT count(*) FROM cost_line").fetchall() == [(0,)]
    assert con.sql("SELECT count(*) FROM ingest_batch").fetchall() == [(0,)]


def test_every_row_of_the_non_iso_currency_file_names_its_value(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, REAL / "azure_ea_v2_koku.csv", isolate=True)
    assert res.status == "refused"
    assert res.problems == [f"azure_ea_v2_koku.csv: row {i}, column 'BillingCurrencyCode': expected an ISO 4217 "
                            "currency code, got MC" for i in range(1, 6)]


def test_every_row_of_the_two_digit_year_focus_file_names_its_value(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, REAL / "focus_spec_saas_spend_agreements_b2.csv", isolate=False)
    raw = [r["BillingPeriodStart"] for r in _rows(REAL / "focus_spec_saas_spend_agreements_b2.csv")]
    assert [p.rsplit("got ", 1)[1] for p in res.problems] == raw[:5]
    assert all("column 'BillingPeriodStart'" in p for p in res.problems)


# ---- inventory and usage files --------------------------------------------------------------------------------

def _snipeit(con: duckdb.DuckDBPyConnection, res: IngestResult, path: Path) -> None:
    raw = json.loads(path.read_text())
    assert res.rows_loaded == raw["total"] == len(raw["rows"]) == 3
    got = {r[0]: r[1:] for r in con.sql("SELECT asset_tag, serial, model, owner, location, lifecycle_status, cost "
                                        "FROM asset ORDER BY 1").fetchall()}
    # serial 0123456789 is a BIOS placeholder, never a serial; test → a user (owner), test2 → a location,
    # test3 → another asset: in use, no owner
    assert got == {"TEST": (None, "Microsoft", "ronaldeam", "Cali", "in_use", Decimal("123.00")),
                   "TEST2": ("987654312", "Microsoft", None, "Cali", "in_use", None),
                   "TEST3": ("741852963", "Microsoft", None, "Cali", "in_use", None)}


def _jamf(con: duckdb.DuckDBPyConnection, res: IngestResult, path: Path) -> None:
    c = json.loads(path.read_text())["computer"]
    assert res.rows_loaded == 1
    assert con.sql("SELECT serial, model, vendor, owner, class, source FROM asset").fetchall() == [
        (c["general"]["serial_number"], c["hardware"]["model"], "Apple", c["location"]["username"], "laptop",
         "jamf")]


def _servicenow(con: duckdb.DuckDBPyConnection, res: IngestResult, path: Path) -> None:
    records = json.loads(path.read_text())["result"]
    assert res.rows_loaded == len(records) == 40
    assert con.sql("SELECT count(DISTINCT asset_tag), sum(cost) FROM asset").fetchall() == [
        (len({r["asset_tag"] for r in records}), sum(Decimal(r["cost"]) for r in records if r["cost"]))]
    # references arrive as {link, value} only: the ids are kept, and the warnings say which fields carry them
    assert res.warnings == [
        "17 rows carry owner/cost centre as sys_ids; export with display values (sysparm_display_value=true) so "
        "they match the other inventories",
        "references without display values kept as sys_ids in model/vendor/location (location on 40 rows, "
        "model_id on 40 rows, vendor on 40 rows); export with sysparm_display_value=all to carry their names"]
    first = records[0]
    assert con.sql(f"SELECT model, location, cost_center_id FROM asset WHERE asset_tag = '{first['asset_tag']}'"
                   ).fetchall() == [(first["model_id"]["value"], first["location"]["value"],
                                     first["cost_center"]["value"])]


def _aws_config(con: duckdb.DuckDBPyConnection, res: IngestResult, path: Path) -> None:
    items = json.loads(path.read_text())["configurationItems"]
    assert res.rows_loaded == len(items) == 2
    assert {c for (c,) in con.sql("SELECT class FROM asset").fetchall()} == {"cloud_storage", "cloud_instance"}
    assert con.sql("SELECT serial, model FROM asset WHERE class = 'cloud_instance'").fetchall() == [
        ("i-344c463d", "t1.micro")]


def _opencost(con: duckdb.DuckDBPyConnection, res: IngestResult, path: Path) -> None:
    data = json.loads(path.read_text())["data"][0]
    # one driver row per namespace and quantity above zero (prometheus used nothing in the window)
    want = {(ns, "cpu_core_hours"): a["cpuCoreHours"] for ns, a in data.items() if a["cpuCoreHours"] > 0}
    want |= {(ns, "ram_gib_hours"): a["ramByteHours"] / 2**30 for ns, a in data.items() if a["ramByteHours"] > 0}
    got = {(t, d): q for t, d, q in con.sql("SELECT target_id, driver, quantity FROM driver_value").fetchall()}
    assert res.rows_loaded == len(want) == 4 and got.keys() == want.keys()
    assert all(got[k] == pytest.approx(v, rel=1e-6) for k, v in want.items())


INVENTORY: dict[str, tuple[str, str, Callable[[duckdb.DuckDBPyConnection, IngestResult, Path], None]]] = {
    "snipeit_api_v1_hardware_jupiterone.json": ("snipeit", "asset", _snipeit),
    "jamf_classic_api_computer_jupiterone.json": ("jamf", "asset", _jamf),
    "servicenow_table_api_cmdb_ci_server_jupiterone.json": ("servicenow", "asset", _servicenow),
    "aws_config_snapshot_awsdocs.json": ("aws_config", "asset", _aws_config),
    "opencost_allocation_swagger_example.json": ("opencost", "driver_value", _opencost),
}


@pytest.mark.parametrize("name", sorted(INVENTORY))
def test_inventory_and_usage_json_loads_its_records(con: duckdb.DuckDBPyConnection, name: str) -> None:
    kind, table, check = INVENTORY[name]
    path = REAL / name
    res = ingest_file(con, path, isolate=name.startswith("snipeit"))
    assert (res.status, res.kind, res.target_table, res.rows_quarantined) == ("loaded", kind, table, 0), res.messages
    check(con, res, path)


def test_every_real_sample_has_its_case() -> None:
    files = {p.name for p in REAL.iterdir() if p.name != "README.md"}
    covered = {n for n in (*LOADS, *REFUSED, *INVENTORY) if not n.startswith("../")}
    assert files == covered


# ---- targeted: dates that cannot lie --------------------------------------------------------------------------

def _focus(rows: list[dict[str, str]], path: Path) -> Path:
    header = ["ServiceProviderName", "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "ChargePeriodStart",
              "ChargePeriodEnd", "BilledCost", "EffectiveCost"]
    base = {"ServiceProviderName": "Acme", "BillingAccountId": "BA", "BillingCurrency": "USD",
            "BillingPeriodStart": "2025-04-01", "ChargePeriodStart": "2025-04-01", "ChargePeriodEnd": "2025-04-02",
            "BilledCost": "1", "EffectiveCost": "1"}
    header += [k for r in rows for k in r if k not in header]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        for r in rows:
            w.writerow({**base, **r})
    return path


def test_two_digit_years_never_land_outside_their_year(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # DuckDB's own cast reads 4/1/25 as 0004-01-25, and its %Y takes 25 for the year 25: neither reaches a row
    con2 = duckdb.connect()
    for fmts in ((*ISO_FORMATS,), (*ISO_FORMATS, *US_FORMATS)):
        got = con2.execute(f"SELECT {parse_timestamp('x', fmts)} FROM (SELECT ?::VARCHAR AS x)", ["4/1/25"])
        assert got.fetchall() == [(None,)]
    # FOCUS: slash dates are quarantined with column and text; the ISO rows load
    f = _focus([{}, {"ChargePeriodStart": "4/1/25"}, {"BillingPeriodStart": "04/01/2025"},
                {"ChargePeriodEnd": "0025-04-02"}], tmp_path / "focus.csv")
    res = ingest_file(con, f, isolate=False)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 1, 3), res.messages
    assert [p.split(": ", 1)[1].split(": expected")[0] for p in res.problems] == [
        "row 2, column 'ChargePeriodStart'", "row 3, column 'BillingPeriodStart'", "row 4, column 'charge_period_end'"]
    assert [p.rsplit(", got ", 1)[1] for p in res.problems] == ["4/1/25", "04/01/2025", "0025-04-02 00:00:00"]
    assert "expected a date in the years 2000–2100" in res.problems[2]
    assert con.sql("SELECT min(charge_period_start), max(charge_period_end) FROM cost_line").fetchall()[0] == (
        duckdb.sql("SELECT TIMESTAMP '2025-04-01', TIMESTAMP '2025-04-02'").fetchall()[0])


def test_azure_reads_mm_dd_yyyy_and_quarantines_a_two_digit_year(con: duckdb.DuckDBPyConnection,
                                                                 tmp_path: Path) -> None:
    f = tmp_path / "azure.csv"
    f.write_text("SubscriptionId,Date,MeterCategory,CostInBillingCurrency,BillingCurrencyCode\n"
                 "s,09/21/2023,Storage,1.50,EUR\ns,4/1/25,Storage,2.00,EUR\ns,2023-09-22,Storage,0.25,EUR\n")
    rates.store_rates(con, "test", [MonthlyRate("2023-09", "EUR", Decimal("1.0677"))], "test", "USD")
    res = ingest_file(con, f, isolate=False)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 2, 1)
    assert res.problems == ["azure.csv: row 2, column 'Date': expected a date/time such as 09/21/2023 (MM/DD/YYYY, "
                            "four-digit year) or 2023-09-21, got 4/1/25"]
    assert con.sql("SELECT strftime(charge_period_start, '%Y-%m-%d'), billing_period FROM cost_line ORDER BY 1"
                   ).fetchall() == [("2023-09-21", "2023-09"), ("2023-09-22", "2023-09")]


def test_typed_dates_outside_the_window_are_quarantined(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = tmp_path / "focus.parquet"
    duckdb.sql("SELECT 'Acme' AS ServiceProviderName, 'USD' AS BillingCurrency, d AS BillingPeriodStart, "
               "d AS ChargePeriodStart, d + INTERVAL 1 DAY AS ChargePeriodEnd, 1.5 AS BilledCost, 1.5 AS EffectiveCost "
               "FROM (VALUES (TIMESTAMP '2025-04-01'), (TIMESTAMP '0025-04-01')) t(d)").write_parquet(str(f))
    res = ingest_file(con, f, isolate=False)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 1, 1), res.messages
    assert res.problems == ["focus.parquet: row 2, column 'charge_period_start': expected a date in the years "
                            "2000–2100, got 0025-04-01 00:00:00"]


def test_a_utc_offset_is_converted_not_dropped(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = _focus([{"ChargePeriodStart": "2025-04-01T02:00:00+02:00", "ChargePeriodEnd": "2025-04-01T01:00:00Z"}],
               tmp_path / "offset.csv")
    assert ingest_file(con, f, isolate=False).status == "loaded"
    assert con.sql("SELECT strftime(charge_period_start, '%H:%M') FROM cost_line").fetchall() == [("00:00",)]


# ---- targeted: line endings, short rows, repr credits ---------------------------------------------------------

@pytest.mark.parametrize("isolate", [False, True])
def test_mixed_line_endings_load_whole(con: duckdb.DuckDBPyConnection, tmp_path: Path, isolate: bool) -> None:
    lines = ["ServiceProviderName,BillingCurrency,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,BilledCost,"
             "EffectiveCost"]
    lines += [f"Acme,USD,2025-04-01,2025-04-0{d},2025-04-0{d + 1},{d}.25,{d}.25" for d in (1, 2, 3, 4)]
    f = tmp_path / "mixed.csv"
    f.write_bytes(b"".join(ln.encode() + (b"\n" if i % 2 else b"\r\n") for i, ln in enumerate(lines)))
    res = ingest_file(con, f, isolate=isolate)
    assert (res.status, res.rows_read, res.rows_loaded, res.rows_quarantined) == ("loaded", 4, 4, 0), res.messages
    assert "line endings were mixed (3 CRLF, 2 LF): read with every line ending as LF" in res.warnings
    assert con.sql("SELECT sum(billed_cost) FROM cost_line").fetchall() == [(Decimal("11.00"),)]


def test_reader_errors_are_worded_without_duckdb_hints() -> None:
    text = ("Invalid Input Error: The CSV Parser state machine reached an invalid state.\nThis can happen when is "
            "not possible to parse your CSV File with the given options, or the CSV File is not RFC 4180 compliant"
            "\nPossible fixes:\n* Disable the parser's strict mode (strict_mode=false)\n  all_varchar = 0")
    worded = describe_csv_error(text)
    assert worded.startswith("CSV text the reader can split")
    assert "strict_mode" not in worded and "Possible fixes" not in worded and "all_varchar" not in worded


SHORT_HEAD = ("ServiceProviderName,BillingCurrency,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,BilledCost,"
              "EffectiveCost,x_Note\n")
SHORT_ROW = "Acme,USD,2025-04-01,2025-04-01,2025-04-02,2,2\n"


def test_short_rows_absent_last_column(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # every row one cell short of the header: the last header column is absent (NULL), the rows load
    f = tmp_path / "short.csv"
    f.write_text(SHORT_HEAD + SHORT_ROW * 3)
    res = ingest_file(con, f, isolate=False)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 3, 0), res.messages
    assert res.warnings[0] == ("the header names 8 columns but the data rows have 7: the last header column "
                               "'x_Note' is read as empty on every row (a row with all 8 cells would be quarantined)")
    # a full row among them: the short rows are the damaged ones (MISSING COLUMNS), the full one loads
    g = tmp_path / "short_and_full.csv"
    g.write_text(SHORT_HEAD + SHORT_ROW * 3 + "Acme,USD,2025-04-01,2025-04-01,2025-04-02,5,5,note\n")
    res = ingest_file(con, g, isolate=False, replace=True)   # the same month again, on purpose
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 1, 3), res.messages
    assert all("MISSING COLUMNS" in p for p in res.problems)
    # a full row after the first 256 KB of short rows is quarantined, never shifted into the short shape
    n = 6_000
    h = tmp_path / "short_long.csv"
    h.write_text(SHORT_HEAD + SHORT_ROW * n + "Acme,USD,2025-04-01,2025-04-01,2025-04-02,5,5,note\n")
    res = ingest_file(con, h, isolate=False, replace=True)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", n, 1), res.messages
    assert res.problems[0].startswith(f"short_long.csv: row {n + 1}, column '*': TOO MANY COLUMNS")
    # the same shape with a required last column is refused, naming it
    g = tmp_path / "short_required.csv"
    g.write_text("ServiceProviderName,BillingCurrency,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,"
                 "BilledCost,EffectiveCost\n" + "Acme,USD,2025-04-01,2025-04-01,2025-04-02,2\n" * 2)
    res = ingest_file(con, g, isolate=False)
    assert res.messages == ["short_required.csv: row 1, column 'EffectiveCost': a value in the required column "
                            "'EffectiveCost' on every row, but the header names 7 columns and the data rows have 6: "
                            "that last header column is missing from every row"]


def test_python_repr_credits_count_and_a_bad_one_is_quarantined(con: duckdb.DuckDBPyConnection,
                                                                tmp_path: Path) -> None:
    head = "billing_account_id,service.description,usage_start_time,usage_end_time,cost,currency,credits,labels\n"
    row = "A,Compute,2025-04-01 00:00:00+00:00,2025-04-01 01:00:00+00:00,{cost},USD,\"{credits}\",\"{labels}\"\n"
    f = tmp_path / "gcp.csv"
    f.write_text(head
                 + row.format(cost="1.5", credits="[{'name': \"\"it's\"\", 'amount': -0.5, 'full_name': None}]",
                              labels="[{'key': 'team', 'value': 'data'}]")
                 + row.format(cost="2", credits='[{""amount"": -1.25}]', labels="[]")
                 + row.format(cost="3", credits="[{'amount': nan}]", labels="[]")
                 + row.format(cost="4", credits="[]", labels="not a list"))
    res = ingest_file(con, f, isolate=False)
    assert (res.status, res.rows_loaded, res.rows_quarantined) == ("loaded", 2, 2), res.messages
    assert con.sql("SELECT sum(billed_cost), sum(effective_cost) FROM cost_line").fetchall() == [
        (Decimal("3.5"), Decimal("1.75"))]
    assert con.sql("SELECT tags FROM cost_line WHERE billed_cost = 1.5").fetchall() == [({"team": "data"},)]
    assert [p.split(": ", 1)[1] for p in res.problems] == [
        "row 3, column 'credits': expected credits as a JSON list (or a Python-repr list of plain values), got "
        "[{'amount': nan}]",
        "row 4, column 'labels': expected labels as a JSON list of {key, value} (or its Python repr), got not a list"]


def test_repr_conversion_is_exact_or_nothing() -> None:
    con = duckdb.connect()
    expr = json_or_pyrepr("x")
    cases = ["[{'a': \"it's\", 'b': True, 'c': None, 'd': -5e-06}]", "[{'x': \"', 'amount': 5, 'y': '\"}]", "[]"]
    for text in cases:
        got = con.execute(f"SELECT CAST({expr} AS VARCHAR) FROM (SELECT ?::VARCHAR x)", [text]).fetchall()[0][0]
        assert json.loads(got) == ast.literal_eval(text)
    for text in ("[{'a': 'say \"hi\"'}]", "[{'a': 'b\\\\c'}]", "{'a': 1}", "[{'a': [1]}]", "[{'a': inf}]"):
        assert con.execute(f"SELECT {expr} FROM (SELECT ?::VARCHAR x)", [text]).fetchall() == [(None,)]


# ---- targeted: FOCUS versions and ProviderName ----------------------------------------------------------------

def test_provider_name_is_not_deprecated_before_focus_13(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    text = (FIXTURES / "focus_1.2_sample.csv").read_text().replace("ServiceProviderName", "ProviderName", 1)
    f12 = tmp_path / "focus12_provider.csv"
    f12.write_text(text)
    rates.store_rates(con, "test", [MonthlyRate("2025-03", "EUR", Decimal("1.0807"))], "test", "USD")
    res = ingest_file(con, f12, isolate=False)
    assert res.status == "loaded", res.messages
    assert not any("deprecated" in w for w in res.warnings)
    assert res.warnings == ["read as FOCUS 1.0–1.2 (ProviderName, no column introduced in 1.3): the provider is "
                            "ProviderName"]
    assert {p for (p,) in con.sql("SELECT DISTINCT provider FROM cost_line").fetchall()} == {"Contoso Cloud"}
    # a 1.3 file (it has a column 1.3 introduced) that still names the provider ProviderName is warned
    lines = (FIXTURES / "focus_1.3_allocated.csv").read_text().splitlines(keepends=True)
    f13 = tmp_path / "focus13_provider.csv"
    f13.write_text(lines[0].replace("ServiceProviderName", "ProviderName", 1) + "".join(lines[1:]))
    res = ingest_file(con, f13, isolate=False)
    assert res.status == "loaded", res.messages
    assert any(w.startswith("ProviderName is deprecated since FOCUS 1.3 (this file has the 1.3 column Allocated")
               for w in res.warnings), res.warnings
