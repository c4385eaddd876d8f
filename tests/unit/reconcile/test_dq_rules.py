"""Data-quality rules on asset attributes: defaults, custom pydantic config, depreciation status."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from pydantic import ValidationError

from connectors._kit.source_rows import ASSET_SCHEMA
from engine.reconcile import dq_rules
from engine.reconcile.dq_rules import AttributeRule, DepreciationRule, DqConfig, Scope
from tests.unit.inventory_helpers import FIXTURES, load

AS_OF = date(2026, 11, 30)


def _assets(rows: list[dict]) -> pl.DataFrame:
    base = dict.fromkeys(ASSET_SCHEMA)
    return pl.DataFrame([{**base, **r} for r in rows], schema=ASSET_SCHEMA)


ASSETS = _assets([
    # clean laptop
    {"asset_id": "a:1", "source": "a", "class": "laptop", "owner": "ann", "location": "LON", "cost_center_id": "CC1",
     "lifecycle_status": "in_use", "cost": Decimal("1000"), "purchase_date": date(2025, 1, 1),
     "useful_life_months": 36, "depreciation_method": "straight_line"},
    # laptop in use: no owner, no location, no cost centre; fully depreciated (60 ≥ 36 months)
    {"asset_id": "a:2", "source": "a", "class": "laptop", "lifecycle_status": "in_use", "cost": Decimal("900"),
     "purchase_date": date(2021, 11, 1), "useful_life_months": 36, "depreciation_method": "straight_line"},
    # server: environment 'prd-ish' not allowed, purchase in the future, no method
    {"asset_id": "a:3", "source": "a", "class": "server", "location": "DC1", "cost_center_id": "CC2",
     "environment": "prd-ish", "lifecycle_status": "in_use", "cost": Decimal("9000"),
     "purchase_date": date(2027, 1, 1), "useful_life_months": 60},
    # retired laptop without owner: owner rule only applies in use
    {"asset_id": "a:4", "source": "a", "class": "laptop", "location": "LON", "lifecycle_status": "retired"},
    # cloud instance without environment
    {"asset_id": "c:1", "source": "aws_config", "class": "cloud_instance", "cost_center_id": "CC1",
     "lifecycle_status": "in_use"},
])


def test_default_rules_find_each_gap() -> None:
    v = dq_rules.evaluate(ASSETS, as_of=AS_OF)
    got = sorted((r["asset_id"], r["rule"], r["column"], r["severity"]) for r in v.to_dicts())
    assert got == sorted([
        ("a:2", "end-user device has an owner", "owner", "error"),
        ("a:2", "location known", "location", "warning"),
        ("a:2", "cost centre known", "cost_center_id", "warning"),
        ("a:2", "depreciation status", "useful_life_months", "warning"),
        ("a:3", "environment is a known name", "environment", "warning"),
        ("a:3", "depreciation status", "depreciation_method", "warning"),
        ("a:3", "depreciation status", "purchase_date", "error"),
        ("c:1", "server/cloud has an environment", "environment", "warning"),
    ])
    assert v["severity"].to_list()[:2] == ["error", "error"]                      # errors first
    full = v.filter(pl.col("column") == "useful_life_months")["message"].to_list()
    assert full == ["fully depreciated (60 of 36 months) but still in use"]
    assert ("depreciation status", "warning", 2) in dq_rules.summary(v).rows()
    assert ("depreciation status", "error", 1) in dq_rules.summary(v).rows()


def test_custom_config() -> None:
    cfg = DqConfig(attribute_rules=[
        AttributeRule(name="London tags", kind="pattern", column="location", pattern="[A-Z]{2,3}[0-9]?",
                      scope=Scope(sources=["a"])),
        AttributeRule(name="owner allowed", kind="allowed", column="owner", values=["Ann"], severity="error"),
    ], depreciation=None)
    v = dq_rules.evaluate(ASSETS.with_columns(pl.when(pl.col("asset_id") == "a:4").then(pl.lit("London"))
                                              .otherwise(pl.col("location")).alias("location")), cfg, as_of=AS_OF)
    assert v.select("asset_id", "rule").rows() == [("a:4", "London tags")]       # 'ann' matches 'Ann'


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="needs values"):
        AttributeRule(name="x", kind="allowed", column="environment")
    with pytest.raises(ValidationError):
        AttributeRule(name="x", kind="required", column="colour")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="needs a pattern"):
        AttributeRule(name="x", kind="pattern", column="location")
    assert DqConfig.model_validate_json(dq_rules.default_config().model_dump_json()) == dq_rules.default_config()
    assert DepreciationRule().scope.classes == list(dq_rules.PHYSICAL)


def test_evaluate_store_after_real_load(con) -> None:
    load(con, FIXTURES / "jamf_advanced_search.csv")
    v = dq_rules.evaluate_store(con, as_of=AS_OF)
    assert v.select("asset_id", "column", "message").sort("asset_id").rows() == [
        ("jamf:C07ZX9ABPJH7", "useful_life_months", "cannot depreciate: useful_life_months is missing"),
        ("jamf:FVFXC2ABQ6L4", "useful_life_months", "fully depreciated (43 of 36 months) but still in use"),
    ]
