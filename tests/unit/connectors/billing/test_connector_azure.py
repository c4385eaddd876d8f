"""Azure cost details: the real EA sample (M/D/YYYY dates, Tags without braces, CAD, exponent notation) loads with
count and totals equal to an independent read of the raw file; the MCA amortised fixture covers camelCase columns,
reservation usage, unused reservation and the finops-toolkit service/region lookups."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from connectors._kit.azure_maps import REGIONS, SERVICES_BY_TYPE
from engine.ingest import registry
from engine.ingest.pipeline import ingest_file
from tests.conftest import SAMPLES
from tests.fx_rates import seed_test_rates


@pytest.fixture
def con(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The empty store with the test rates: these fixtures are billed in EUR/CAD (tests/fx_rates.py). What the
    file said is compared in the `*_billing` columns; the reporting-currency amounts are tests/unit/fx/'s."""
    seed_test_rates(con)
    return con


EA = SAMPLES / "azure_ea_cost_details_sample_anonymized.csv"
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def test_ea_sample_totals_match_the_raw_file(con: duckdb.DuckDBPyConnection) -> None:
    assert registry.detect(EA).name == "azure_cost"
    res = ingest_file(con, EA, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 27 and res.rows_quarantined == 0, res.messages
    raw = duckdb.sql(f"SELECT count(*), sum(CAST(CAST(CostInBillingCurrency AS DOUBLE) AS DECIMAL(38, 10))) "
                     f"FROM read_csv('{EA}', all_varchar = true)").fetchall()[0]
    got = con.sql("SELECT count(*), sum(billed_cost_billing), sum(effective_cost_billing) FROM cost_line").fetchall()[0]
    assert got[:2] == raw and got[2] == raw[1]
    assert round(got[1], 2) == Decimal("1.26")
    assert any("actual-cost export" in w for w in res.warnings)


def test_ea_quirks_dates_tags_currency(con: duckdb.DuckDBPyConnection) -> None:
    ingest_file(con, EA, isolate=False)
    # M/D/YYYY: 9/2/2023 is the 2nd of September, one day long; billing period from 9/1/2023
    assert con.sql("SELECT DISTINCT charge_period_start::VARCHAR, charge_period_end::VARCHAR, billing_period "
                   "FROM cost_line").fetchall() == [("2023-09-02 00:00:00", "2023-09-03 00:00:00", "2023-09")]
    # Tags without their outer braces still parse (keys normalised)
    assert con.sql("SELECT DISTINCT tags FROM cost_line").fetchall() == \
        [({"taga": "valueA", "tagb": "valueB", "tagc": "valueC"},)]
    assert con.sql("SELECT DISTINCT billing_currency, provider FROM cost_line").fetchall() == [("CAD", "Microsoft")]
    # 5.64902E-05 in exponent notation
    assert con.sql("SELECT count(*) FROM cost_line WHERE billed_cost_billing = 0.0000564902").fetchall() == [(1,)]
    spot = con.sql("SELECT count(*) FROM cost_line WHERE pricing_category = 'Dynamic'").fetchall()[0][0]
    raw_spot = duckdb.sql(f"SELECT count(*) FROM read_csv('{EA}', all_varchar = true) WHERE PricingModel = 'Spot'")
    assert spot == raw_spot.fetchall()[0][0] == 3
    # the finops-toolkit region lookup: 'CentralUS' -> centralus / Central US
    assert ("centralus", "Central US") in con.sql("SELECT DISTINCT region_id, region_name FROM cost_line").fetchall()
    assert con.sql("SELECT DISTINCT charge_frequency FROM cost_line").fetchall() == [("Usage-Based",)]


def test_mca_amortised_commitments(con: duckdb.DuckDBPyConnection) -> None:
    f = FIXTURES / "azure_mca_amortized.csv"
    res = ingest_file(con, f, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 4, res.messages
    assert any("amortised-cost export" in w for w in res.warnings)
    rows = con.sql("SELECT pricing_category, commitment_discount_status, commitment_discount_type, "
                   "billed_cost_billing, effective_cost_billing, charge_category FROM cost_line "
                   "ORDER BY effective_cost_billing DESC").fetchall()
    assert rows == [
        ("Standard", None, None, Decimal("12.5"), Decimal("12.5"), "Usage"),
        ("Committed", "Used", "Reservation", Decimal("0"), Decimal("7.25"), "Usage"),     # paid by the purchase
        ("Committed", "Unused", "Reservation", Decimal("0"), Decimal("0.91"), "Usage"),   # unused reservation
        ("Dynamic", None, None, Decimal("0.2"), Decimal("0.2"), "Usage"),                 # 2.0E-01
    ]
    one = con.sql("SELECT service_name, service_category, resource_type, region_id, tag_cost_center, "
                  "tag_environment, invoice_id, list_cost_billing FROM cost_line "
                  "WHERE effective_cost_billing = 12.5").fetchall()[0]
    assert one == ("Virtual Machines", "Compute", "microsoft.compute/virtualmachines", "westeurope", "CC100",
                   "prod", "E0100", Decimal("12.5"))
    assert con.sql("SELECT tag_cost_center FROM cost_line WHERE effective_cost_billing = 7.25").fetchall() == \
        [("CC200",)]


def test_mca_as_actual_cost_when_chosen(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, FIXTURES / "azure_mca_amortized.csv", isolate=False, kind="azure_cost",
                      options={"cost_type": "actual"})
    assert res.status == "loaded"
    assert con.sql("SELECT sum(billed_cost_billing), sum(effective_cost_billing) FROM cost_line").fetchall() == \
        [(Decimal("20.86"), Decimal("20.86"))]


def test_lookups_are_derived_from_the_toolkit_files() -> None:
    with open(SAMPLES / "azure_finops_toolkit_Regions.csv", encoding="utf-8-sig") as f:
        regions = {r["OriginalValue"].strip().lower(): (r["RegionId"], r["RegionName"]) for r in csv.DictReader(f)}
    assert regions == REGIONS
    with open(SAMPLES / "azure_finops_toolkit_Services.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    vm = next(r for r in rows if r["ResourceType"].lower() == "microsoft.compute/virtualmachines")
    assert SERVICES_BY_TYPE["microsoft.compute/virtualmachines"] == (vm["ServiceName"], vm["ServiceCategory"])
