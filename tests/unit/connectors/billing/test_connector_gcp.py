"""GCP billing export (BigQuery): JSON lines and Parquet with nested credits and labels; effective = cost + Σ
credits; labels, tags and project labels become normalised tags; totals checked against an independent read."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.ingest import registry
from engine.ingest.pipeline import ingest_file
from tests.fx_rates import seed_test_rates


@pytest.fixture
def con(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The empty store with the test rates: these fixtures are billed in EUR/CAD (tests/fx_rates.py). What the
    file said is compared in the `*_billing` columns; the reporting-currency amounts are tests/unit/fx/'s."""
    seed_test_rates(con)
    return con

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


@pytest.mark.parametrize("name", ["gcp_billing_export.jsonl", "gcp_billing_export.parquet"])
def test_gcp_export_costs_credits_labels(con: duckdb.DuckDBPyConnection, name: str) -> None:
    f = FIXTURES / name
    assert registry.detect(f).name == "gcp_billing"
    res = ingest_file(con, f, isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 4 and res.rows_quarantined == 0, res.messages
    reader = "read_parquet" if f.suffix == ".parquet" else "read_json"
    raw = duckdb.sql(f"SELECT count(*), round(sum(cost), 6), round(sum(cost) + sum((SELECT coalesce(sum(c.amount), 0) "
                     f"FROM unnest(credits) t(c))), 6) FROM {reader}('{f}')").fetchall()[0]
    got = con.sql("SELECT count(*), sum(billed_cost_billing), sum(effective_cost_billing) FROM cost_line").fetchall()[0]
    assert (got[0], round(float(got[1]), 6), round(float(got[2]), 6)) == (raw[0], float(raw[1]), float(raw[2]))
    assert got[1:] == (Decimal("25.895678"), Decimal("20.945678"))
    lines = con.sql("SELECT sku_id, billed_cost_billing, effective_cost_billing, pricing_category, "
                    "commitment_discount_status, "
                    "charge_category, tag_cost_center, tag_environment, tag_application FROM cost_line "
                    "ORDER BY sku_id").fetchall()
    assert lines == [
        ("SKU-1", Decimal("12.345678"), Decimal("11.145678"), "Standard", None, "Usage", "CC100", "prod", None),
        ("SKU-2", Decimal("8.5"), Decimal("4.75"), "Committed", "Used", "Usage", "PROJ-CC", None, "search"),
        ("SKU-3", Decimal("4"), Decimal("4"), "Standard", None, "Usage", "PROJ-CC", None, None),
        ("SKU-4", Decimal("1.05"), Decimal("1.05"), "Standard", None, "Tax", "PROJ-CC", None, None),
    ]
    meta = con.sql("SELECT DISTINCT provider, billing_account_id, billing_period, sub_account_id, service_name, "
                   "region_id, billing_currency, charge_period_start::VARCHAR FROM cost_line").fetchall()
    assert meta == [("Google Cloud", "01A2B3-C4D5E6-F7A8B9", "2025-04", "proj-a", "Compute Engine", "europe-west3",
                     "EUR", "2025-04-02 00:00:00")]
