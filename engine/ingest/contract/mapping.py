"""A named column mapping for generic CSV/XLSX/Parquet files: the data a user saves once and the generic connector
applies (connectors/inventory/generic.py). The model is part of the ingest contract because the connector reads it;
saving and loading profiles from the store is engine/ingest/mapping_profiles.py.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from engine.errors import InputError

TargetTable = Literal["asset", "driver_value", "licence_entitlement", "licence_assignment", "cost_line"]

# Columns a mapping may fill, per target table; the loader enforces the rest of each table's rules.
MAPPABLE: dict[str, tuple[str, ...]] = {
    "asset": ("asset_id", "asset_tag", "serial", "class", "model", "vendor", "owner", "cost_center_id", "app_id",
              "location", "environment", "lifecycle_status", "purchase_date", "cost", "residual",
              "useful_life_months", "depreciation_method", "depreciation_convention", "purchase_order",
              "warranty_expires"),
    "driver_value": ("period", "driver", "target_kind", "target_id", "quantity"),
    "licence_entitlement": ("product", "vendor", "entitlements", "unit_cost_month"),
    "licence_assignment": ("product", "username", "cost_center_id", "assigned_on", "last_active"),
    "cost_line": ("billing_period", "charge_period_start", "charge_period_end", "provider", "billing_account_id",
                  "sub_account_id", "service_name", "service_category", "resource_id", "resource_type", "region_id",
                  "sku_id", "charge_category", "charge_class", "pricing_category", "billed_cost", "effective_cost",
                  "list_cost", "contracted_cost", "consumed_quantity", "consumed_unit", "billing_currency",
                  "tag_cost_center", "tag_application", "tag_environment", "invoice_id"),
}

# What each table cannot do without (asset_id may instead come from asset_tag or serial).
REQUIRED: dict[str, tuple[str, ...]] = {
    "asset": ("class",),
    "driver_value": ("period", "driver", "target_kind", "target_id", "quantity"),
    "licence_entitlement": ("product", "entitlements", "unit_cost_month"),
    "licence_assignment": ("product", "username"),
    "cost_line": ("billing_period", "charge_period_start", "charge_period_end", "provider", "billed_cost",
                  "effective_cost", "billing_currency"),
}


class MappingProfile(BaseModel):
    """target column → source column, plus constants for columns the file lacks (e.g. class = 'laptop')."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$")
    target_table: TargetTable
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str | float | int] = Field(default_factory=dict)
    source: str = Field(default="generic", pattern=r"^[a-z0-9_]+$", description="asset.source / asset_id prefix")
    sheet: str | None = Field(default=None, description="XLSX worksheet; the first one when empty")
    day_first: bool = Field(default=False, description="read NN/NN/YYYY dates as day/month (UK, EU), not month/day")

    @field_validator("columns")
    @classmethod
    def _sources_named(cls, v: dict[str, str]) -> dict[str, str]:
        empty = [k for k, s in v.items() if not str(s).strip()]
        if empty:
            raise InputError(f"no source column chosen for {', '.join(sorted(empty))}")
        return v

    @model_validator(mode="after")
    def _targets_known(self) -> MappingProfile:
        allowed = set(MAPPABLE[self.target_table])
        unknown = sorted((set(self.columns) | set(self.constants)) - allowed)
        if unknown:
            raise InputError(f"{self.target_table} has no column(s) {', '.join(unknown)}; "
                             f"mappable: {', '.join(MAPPABLE[self.target_table])}")
        have = set(self.columns) | set(self.constants)
        missing = [c for c in REQUIRED[self.target_table] if c not in have]
        if missing:
            raise InputError(f"a {self.target_table} mapping needs {', '.join(missing)} (a column or a constant)")
        if self.target_table == "asset" and not have & {"asset_id", "asset_tag", "serial"}:
            raise InputError("an asset mapping needs asset_id, asset_tag or serial to key the rows")
        return self
