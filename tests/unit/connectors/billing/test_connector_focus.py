"""FOCUS connector: the real 1.0 sample loads with totals equal to an independent DuckDB read of the raw file, and
its quirks (literal NULL, Usage-based casing, tag key aliases incl. ' org', ProviderName) are handled; crafted
1.2/1.3 files cover ServiceProviderName, ISO datetimes, enum casing and Allocated* split rows (CSV and Parquet)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

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


FOCUS10 = SAMPLES / "focus_1.0_sample_1000rows.csv"
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
RAW = f"read_csv('{FOCUS10}', all_varchar = true)"


def _dec(col: str) -> str:
    return f"sum(CAST(nullif(\"{col}\", 'NULL') AS DECIMAL(38, 10)))"


def test_focus_10_sample_counts_and_totals_match_the_raw_file(con: duckdb.DuckDBPyConnection) -> None:
    res = ingest_file(con, FOCUS10, isolate=False)
    assert res.status == "loaded", res.messages
    assert res.kind == "focus" and res.rows_loaded == 1000 and res.rows_quarantined == 0
    raw = duckdb.sql(f"SELECT count(*), {_dec('BilledCost')}, {_dec('EffectiveCost')}, {_dec('ListCost')} "
                     f"FROM {RAW}").fetchall()[0]
    got = con.sql("SELECT count(*), sum(billed_cost_billing), sum(effective_cost_billing), sum(list_cost_billing) "
                  "FROM cost_line"
                  ).fetchall()[0]
    assert got == raw
    assert round(got[1], 2) == Decimal("20.52") and round(got[2], 2) == Decimal("14.98")
    by_raw = duckdb.sql(f"SELECT ProviderName, count(*), {_dec('EffectiveCost')} FROM {RAW} GROUP BY 1 ORDER BY 1")
    by_got = con.sql("SELECT provider, count(*), sum(effective_cost_billing) FROM cost_line GROUP BY 1 ORDER BY 1")
    assert by_got.fetchall() == by_raw.fetchall()
    assert [r[0] for r in by_got.fetchall()] == ["AWS", "Microsoft", "Oracle"]


def test_focus_10_quirks(con: duckdb.DuckDBPyConnection) -> None:
    ingest_file(con, FOCUS10, isolate=False)
    # literal NULL is null, not the text 'NULL'
    raw_nulls = duckdb.sql(f"SELECT count(*) FILTER (WHERE ResourceId = 'NULL'), "
                           f"count(*) FILTER (WHERE ChargeClass = 'NULL') FROM {RAW}").fetchall()[0]
    got_nulls = con.sql("SELECT count(*) FILTER (WHERE resource_id IS NULL), "
                        "count(*) FILTER (WHERE charge_class IS NULL) FROM cost_line").fetchall()[0]
    assert got_nulls == raw_nulls and raw_nulls[1] > 900
    assert con.sql("SELECT count(*) FROM cost_line WHERE resource_id = 'NULL' OR sku_id = 'NULL'").fetchall() \
        == [(0,)]
    # both spellings of Usage-based arrive as the FOCUS value
    spellings = dict(duckdb.sql(f"SELECT ChargeFrequency, count(*) FROM {RAW} GROUP BY 1").fetchall())
    assert spellings.get("Usage-Based", 0) > 0 and spellings.get("Usage-based", 0) > 0
    freq = dict(con.sql("SELECT charge_frequency, count(*) FROM cost_line GROUP BY 1").fetchall())
    assert freq["Usage-Based"] == spellings["Usage-Based"] + spellings["Usage-based"]
    assert set(freq) <= {"Usage-Based", "One-Time", "Recurring"}
    # tag key aliases: CostCenter / Cost department -> cost_center, env / environment -> environment, ' org' -> org
    raw_tags = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE Tags LIKE '%\"CostCenter\"%' OR Tags LIKE '%\"Cost department\"%'), "
        f"count(*) FILTER (WHERE Tags LIKE '%\" org\"%' OR Tags LIKE '%\"org\"%'), "
        f"count(*) FILTER (WHERE Tags LIKE '%\"env\"%' OR Tags LIKE '%\"environment\"%') FROM {RAW}"
    ).fetchall()[0]
    got_tags = con.sql("SELECT count(tag_cost_center), count(tag_org), count(tag_environment) "
                       "FROM cost_line").fetchall()[0]
    assert got_tags == raw_tags and all(n > 0 for n in raw_tags)
    leading_space = duckdb.sql(f"SELECT json_extract_string(Tags, '$.\" org\"') FROM {RAW} "
                               f"WHERE Tags LIKE '%\" org\"%' AND Tags NOT LIKE '%\"org\"%'").fetchall()
    assert len(leading_space) > 0
    loaded_org = {v for (v,) in con.sql("SELECT DISTINCT tag_org FROM cost_line").fetchall()}
    assert {v for (v,) in leading_space} <= loaded_org
    keys = {k for (ks,) in con.sql("SELECT DISTINCT map_keys(tags) FROM cost_line WHERE tags IS NOT NULL")
            .fetchall() for k in ks}
    assert {"cost_center", "org", "environment"} <= keys
    assert not keys & {"CostCenter", "Cost department", " org", "env"}
    # datetimes YYYY-MM-DD HH:MM:SS and the billing period
    span = duckdb.sql(f"SELECT min(ChargePeriodStart::TIMESTAMP), max(ChargePeriodEnd::TIMESTAMP) FROM {RAW}")
    assert con.sql("SELECT min(charge_period_start), max(charge_period_end) FROM cost_line").fetchall() == \
        span.fetchall()
    periods = duckdb.sql(f"SELECT DISTINCT strftime(BillingPeriodStart::TIMESTAMP, '%Y-%m') FROM {RAW} ORDER BY 1")
    assert con.sql("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall() == periods.fetchall()
    # the extra non-x_ column 'Id' is ignored, ProviderName read as the provider with a warning
    warn = con.sql("SELECT note FROM ingest_batch").fetchall()[0][0]
    assert "ProviderName" in warn


def test_focus_12_enums_formats_and_tags(con: duckdb.DuckDBPyConnection) -> None:
    f = FIXTURES / "focus_1.2_sample.csv"
    res = ingest_file(con, f, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 5, res.messages
    rows = con.sql("SELECT charge_category, charge_class, charge_frequency, pricing_category, "
                   "commitment_discount_status, billed_cost_billing, effective_cost_billing, tag_cost_center, "
                   "tag_environment, "
                   "tag_application, tag_org, charge_period_start::VARCHAR, billing_currency "
                   "FROM cost_line ORDER BY billed_cost_billing").fetchall()
    assert rows[0][:7] == ("Credit", "Correction", "One-Time", None, None, Decimal("-1.25"), Decimal("-1.25"))
    assert rows[0][7] == "CC100" and rows[0][10] == "Finance"        # 'Cost department', ' org'
    usage = {r[5]: r for r in rows if r[0] == "Usage"}
    assert usage[Decimal("10.25")][2:4] == ("Usage-Based", "Standard")    # usage-based / standard lower case
    assert usage[Decimal("10.25")][7:10] == ("CC100", "prod", "billing")   # CostCenter, env, App
    assert usage[Decimal("0")][4] == "Used" and usage[Decimal("0")][7] == "CC200"   # 'used', cost-center
    assert {r[12] for r in rows} == {"EUR"}
    assert con.sql("SELECT sum(billed_cost_billing), sum(effective_cost_billing) FROM cost_line").fetchall() == \
        [(Decimal("41.05"), Decimal("16.75"))]
    # three datetime spellings for the same period
    assert con.sql("SELECT DISTINCT billing_period FROM cost_line").fetchall() == [("2025-03",)]


def _check_focus_13(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    res = ingest_file(con, path, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 4 and res.rows_quarantined == 1, res.messages
    # the origin row (90.00) is carried by its split rows (45 + 30 + 15): counted once
    assert con.sql("SELECT sum(effective_cost_billing) FROM cost_line").fetchall() == [(Decimal("97.5"),)]
    lines = con.sql("SELECT resource_id, allocated_method_id, tag_cost_center, tag_application, tag_environment "
                    "FROM cost_line ORDER BY effective_cost_billing DESC").fetchall()
    assert lines == [
        ("ns-payments", "proportional-cpu", "CC300", "pay", "prod"),     # allocated tags win, resource tags kept
        ("ns-search", "proportional-cpu", "CC400", None, "prod"),
        ("cluster-1", "proportional-cpu", "PLATFORM", None, "prod"),      # no allocated resource: the origin's
        ("db-1", None, None, None, None),
    ]
    q = con.sql("SELECT row_number, column_name, reason FROM quarantine_row").fetchall()
    assert q[0][0] == 1 and q[0][1] == "AllocatedMethodId" and "split rows" in q[0][2]


def test_focus_13_allocated_split_rows_csv(con: duckdb.DuckDBPyConnection) -> None:
    _check_focus_13(con, FIXTURES / "focus_1.3_allocated.csv")


def test_focus_13_allocated_split_rows_parquet(con: duckdb.DuckDBPyConnection) -> None:
    assert registry.detect(FIXTURES / "focus_1.3_allocated.parquet").name == "focus"
    _check_focus_13(con, FIXTURES / "focus_1.3_allocated.parquet")


def test_focus_10_as_parquet_with_typed_columns(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    pq = tmp_path / "focus10.parquet"
    duckdb.sql(f"COPY (SELECT * REPLACE (TRY_CAST(nullif(BilledCost, 'NULL') AS DOUBLE) AS BilledCost, "
               f"TRY_CAST(nullif(EffectiveCost, 'NULL') AS DECIMAL(20, 11)) AS EffectiveCost, "
               f"CAST(ChargePeriodStart AS TIMESTAMP) AS ChargePeriodStart) FROM {RAW}) TO '{pq}' (FORMAT parquet)")
    res = ingest_file(con, pq, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 1000, res.messages
    raw = duckdb.sql(f"SELECT {_dec('EffectiveCost')}, sum(TRY_CAST(nullif(BilledCost, 'NULL') AS DOUBLE)) "
                     f"FROM {RAW}").fetchall()[0]
    eff, billed = con.sql("SELECT sum(effective_cost_billing), sum(billed_cost_billing) FROM cost_line").fetchall()[0]
    assert eff == raw[0]
    assert round(float(billed), 6) == round(raw[1], 6)
    assert con.sql("SELECT count(tag_org) FROM cost_line").fetchall()[0][0] > 0
