"""Tag hygiene: aliases and normalisation (Python and SQL agree), the tag standard, coverage by effective cost."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.ingest.pipeline import ingest_file
from engine.tags.normalise import (
    TagStandard,
    canonical_key,
    canonical_key_sql,
    coverage,
    normalise_tags,
    normalise_tags_sql,
)
from tests.fx_rates import TEST_RATES, seed_test_rates

SPELLINGS = {
    "CostCenter": "cost_center", "cost-center": "cost_center", "Cost department": "cost_center",
    "COST_CENTRE": "cost_center", " org": "org", "Organization": "org", "env": "environment",
    "Environment": "environment", "app": "application", "Application Name": "application", "Owner": "owner",
    "created-by": "owner", "business_unit": "business_unit", "Team Name ": "team_name", "x:Y/z": "x_y_z",
}


@pytest.mark.parametrize(("raw", "canon"), sorted(SPELLINGS.items()))
def test_canonical_key_in_python_and_sql(raw: str, canon: str) -> None:
    assert canonical_key(raw) == canon
    got = duckdb.sql(f"SELECT {canonical_key_sql('k')} FROM (SELECT ? AS k)", params=[raw]).fetchall()
    assert got == [(canon,)]


def test_first_spelling_wins_and_empties_drop() -> None:
    tags = {"CostCenter": "CC1", "cost-center": "CC2", " org": " Fin ", "env": "", "App": None}
    assert normalise_tags(tags) == {"cost_center": "CC1", "org": "Fin"}
    sql = normalise_tags_sql("MAP {'CostCenter': 'CC1', 'cost-center': 'CC2', ' org': ' Fin ', 'env': ''}")
    assert duckdb.sql(f"SELECT {sql}").fetchall() == [({"cost_center": "CC1", "org": "Fin"},)]
    assert duckdb.sql(f"SELECT {normalise_tags_sql('MAP {}::MAP(VARCHAR, VARCHAR)')}").fetchall() == [(None,)]


def test_standard_violations_and_round_trip() -> None:
    std = TagStandard(required=("cost_center", "environment"), allowed={"environment": ("prod", "dev")})
    assert std.violations({"cost_center": "CC1", "environment": "Prod"}) == []
    assert std.violations({"environment": "qa"}) == [
        "missing tag 'cost_center'", "tag 'environment' has value 'qa', allowed: prod, dev"]
    again = TagStandard.from_json(std.to_json())
    assert again.required == std.required and again.allowed == std.allowed


def test_coverage_is_weighted_by_effective_cost(con: duckdb.DuckDBPyConnection) -> None:
    seed_test_rates(con)   # the sample is billed in EUR; coverage weighs the reporting-currency (USD) cost
    eur = TEST_RATES["EUR"]
    ingest_file(con, Path(__file__).resolve().parents[2] / "fixtures" / "focus_1.2_sample.csv", isolate=False)
    # effective EUR: 10.25 (CC100/prod/billing), 4.50 (CC200/dev), 1.20 (no tags), 2.05 (no tags), -1.25 (CC100)
    std = TagStandard(required=("cost_center",), allowed={})
    cov = coverage(con, std)
    assert cov.total_cost == pytest.approx(float(Decimal("16.75") * eur))
    assert cov.compliant_cost == pytest.approx(float(Decimal("13.50") * eur))
    assert round(cov.compliant_pct, 2) == 80.60
    full = coverage(con, TagStandard(required=("cost_center", "environment", "application"),
                                     allowed={"environment": ("prod",)}), billing_period="2025-03")
    assert full.compliant_cost == pytest.approx(float(Decimal("10.25") * eur))
    assert round(full.key_pct("environment"), 2) == round(100 * 14.75 / 16.75, 2)
    assert coverage(con, std, billing_period="1999-01").compliant_pct == 0.0
