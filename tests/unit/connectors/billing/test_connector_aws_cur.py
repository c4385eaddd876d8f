"""AWS CUR: the real legacy sample loads with count and totals equal to an independent read of the raw file; the
CUR 2.0 fixture (CSV and Parquet with maps) checks amortised cost per line item type exactly as the samples README
states, unused commitment marked Unused, tag maps with the user_ prefix, and duplicate line items."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from connectors.billing.aws_cur import cur2_name
from engine.ingest import registry
from engine.ingest.pipeline import ingest_file
from tests.conftest import SAMPLES

LEGACY = SAMPLES / "aws_legacy_cur_sample_anonymized.csv"
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def test_legacy_sample_totals_match_the_raw_file(con: duckdb.DuckDBPyConnection) -> None:
    assert registry.detect(LEGACY).name == "aws_cur"
    res = ingest_file(con, LEGACY, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 1281 and res.rows_quarantined == 0, res.messages
    raw = duckdb.sql(
        f"SELECT count(*), sum(CAST(\"lineItem/UnblendedCost\" AS DECIMAL(38, 10))), "
        f"sum(CAST(\"lineItem/UnblendedCost\" AS DECIMAL(38, 10))) FILTER (WHERE \"lineItem/LineItemType\" = 'Tax') "
        f"FROM read_csv('{LEGACY}', all_varchar = true)").fetchall()[0]
    got = con.sql("SELECT count(*), sum(billed_cost), sum(billed_cost) FILTER (WHERE charge_category = 'Tax') "
                  "FROM cost_line").fetchall()[0]
    assert got == raw
    assert round(got[1], 2) == Decimal("1.68")
    # only Usage and Tax lines in this sample: amortised equals unblended line by line
    assert con.sql("SELECT count(*) FROM cost_line WHERE effective_cost <> billed_cost").fetchall() == [(0,)]
    assert con.sql("SELECT DISTINCT provider, billing_account_id, billing_period, billing_currency FROM cost_line"
                   ).fetchall() == [("AWS", "123412340534", "2023-11", "USD")]
    # exported without resource ids and without resourceTags/*
    assert con.sql("SELECT count(resource_id), count(tags) FROM cost_line").fetchall() == [(0, 0)]
    services = duckdb.sql(f"SELECT count(DISTINCT \"product/ProductName\") FROM read_csv('{LEGACY}', "
                          f"all_varchar = true)").fetchall()
    assert con.sql("SELECT count(DISTINCT service_name) FROM cost_line").fetchall() == services


EXPECTED_EFFECTIVE = {   # line item id -> amortised cost per the samples README
    "li-1": "0.096",     # Usage -> UnblendedCost
    "li-2": "0.061",     # DiscountedUsage -> reservation EffectiveCost
    "li-3": "8.00",      # RIFee -> UnusedAmortizedUpfrontFee (5.25) + UnusedRecurringFee (2.75)
    "li-4": "0",         # Fee with a ReservationARN -> 0
    "li-5": "12.00",     # Fee without -> UnblendedCost
    "li-6": "0.070",     # SavingsPlanCoveredUsage -> SavingsPlanEffectiveCost
    "li-7": "0",         # SavingsPlanNegation -> 0
    "li-8": "11.50",     # SavingsPlanRecurringFee -> TotalCommitmentToDate (72) - UsedCommitment (60.5)
    "li-9": "0",         # SavingsPlanUpfrontFee -> 0
    "li-10": "3.10",     # Tax
    "li-11": "-2.00",    # Credit
    "li-12": "0.031",    # spot Usage
}


@pytest.mark.parametrize("name", ["aws_cur2_sample.csv", "aws_cur2_sample.parquet"])
def test_cur2_amortisation_by_line_item_type(con: duckdb.DuckDBPyConnection, name: str) -> None:
    res = ingest_file(con, FIXTURES / name, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 12 and res.rows_quarantined == 1, res.messages
    got = dict(con.sql("SELECT replace(resource_id, 'i-', 'li-'), effective_cost FROM cost_line").fetchall())
    assert got == {k: Decimal(v) for k, v in EXPECTED_EFFECTIVE.items()}
    assert con.sql("SELECT sum(billed_cost), sum(effective_cost) FROM cost_line").fetchall() == \
        [(Decimal("1629.027"), Decimal("32.858"))]
    status = dict(con.sql("SELECT replace(resource_id, 'i-', 'li-'), commitment_discount_status FROM cost_line "
                          "WHERE commitment_discount_status IS NOT NULL").fetchall())
    assert status == {"li-2": "Used", "li-3": "Unused", "li-6": "Used", "li-8": "Unused"}
    unused = con.sql("SELECT sum(effective_cost) FROM cost_line WHERE commitment_discount_status = 'Unused'")
    assert unused.fetchall() == [(Decimal("19.50"),)]
    cats = dict(con.sql("SELECT replace(resource_id, 'i-', 'li-'), charge_category || '/' || "
                        "coalesce(pricing_category, '-') FROM cost_line").fetchall())
    assert cats["li-1"] == "Usage/Standard" and cats["li-2"] == "Usage/Committed" and cats["li-12"] == "Usage/Dynamic"
    assert cats["li-3"] == "Purchase/-" and cats["li-10"] == "Tax/-" and cats["li-11"] == "Credit/-"
    tags = con.sql("SELECT tag_cost_center, tag_environment, tag_application FROM cost_line "
                   "WHERE resource_id IN ('i-1', 'i-2', 'i-6') ORDER BY resource_id").fetchall()
    assert tags == [("CC100", "prod", None), ("CC200", None, None), (None, None, "web")]
    assert con.sql("SELECT DISTINCT service_name FROM cost_line").fetchall() == [("Amazon Elastic Compute Cloud",)]
    q = con.sql("SELECT row_number, column_name, reason FROM quarantine_row").fetchall()
    assert q == [(13, "identity_line_item_id+identity_time_interval",
                  "duplicate natural key (li-1, 2025-02-01T00:00:00Z/2025-02-01T01:00:00Z), first at row 1")]


def test_cur2_names_follow_aws_spelling() -> None:
    assert cur2_name("lineItem/UnblendedCost") == "line_item_unblended_cost"
    assert cur2_name("savingsPlan/TotalCommitmentToDate") == "savings_plan_total_commitment_to_date"
    assert cur2_name("bill/PayerAccountId") == "bill_payer_account_id"
