"""A named column mapping for generic CSV/XLSX/Parquet files: the data a user saves once and the generic connector
applies (connectors/inventory/generic.py). The model is part of the ingest contract because the connector reads it;
saving and loading profiles from the store is engine/ingest/mapping_profiles.py (versioned, audited), the YAML the CLI
reads and writes is engine/ingest/mapping_yaml.py (docs/ingestion.md, "Column mappings").

Cost lines (decided, docs/ingestion.md):
- `billing_period` comes from a column, a constant, or `billing_period_from` (the month, YYYY-MM, of the mapped
  `charge_period_start` or `charge_period_end` after it was read): a cost report without a period column needs no code.
- `tags` maps any number of tag keys to source columns; keys are normalised like every connector's at ingest
  (engine/tags/normalise.py) and `tag_cost_center`/`tag_application`/`tag_environment` are filled from the
  normalised keys. A `tag_*` entry in `columns` is shorthand for the tag `cost_center`/`application`/`environment`.
- Dates: ISO 8601 is always read (it cannot be read two ways); other spellings only by `date_formats`, tried in the
  order given, each with a four-digit year; `day_first` adds the day/month slash spellings. Nothing is guessed.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
                  "tag_cost_center", "tag_application", "tag_environment", "invoice_id", "charge_frequency",
                  "charge_description", "resource_name", "region_name", "availability_zone", "sub_account_name",
                  "pricing_quantity", "pricing_unit", "commitment_discount_id", "commitment_discount_status",
                  "commitment_discount_type"),
}

# The tag each `tag_*` column of `columns` stands for (they land in cost_line.tags like any other tag).
TAG_COLUMNS: dict[str, str] = {"tag_cost_center": "cost_center", "tag_application": "application",
                               "tag_environment": "environment"}
PERIOD_SOURCES = ("charge_period_start", "charge_period_end")
# strftime directives a date format may use (DuckDB's strptime reads the same); %Y is required: a two-digit year
# would read 25 as the year 25 (or 2025: a guess either way).
_DIRECTIVES = set("YmdHMSIpbBfzjge%")
_DIRECTIVE = re.compile(r"%(.)")
DAY_FIRST_FORMATS: tuple[str, ...] = ("%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d.%m.%Y",
                                      "%d.%m.%Y %H:%M:%S")

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

    model_config = ConfigDict(extra="forbid")   # a misspelt key in a YAML file is refused, not ignored

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$")
    target_table: TargetTable
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str | float | int] = Field(default_factory=dict)
    source: str = Field(default="generic", pattern=r"^[a-z0-9_]+$", description="asset.source / asset_id prefix")
    sheet: str | None = Field(default=None, description="XLSX worksheet; the first one when empty")
    day_first: bool = Field(default=False, description="read NN/NN/YYYY dates as day/month (UK, EU), not month/day")
    billing_period_from: Literal["charge_period_start", "charge_period_end"] | None = Field(
        default=None, description="cost_line: the billing period is the month of this mapped timestamp")
    tags: dict[str, str] = Field(default_factory=dict, description="cost_line: tag key → source column")
    date_formats: list[str] = Field(default_factory=list, max_length=20,
                                    description="strftime formats tried in order after ISO 8601, e.g. %d.%m.%Y")

    @field_validator("tags")
    @classmethod
    def _tags_named(cls, v: dict[str, str]) -> dict[str, str]:
        for key, src in v.items():
            if not re.search(r"[A-Za-z0-9]", key) or len(key) > 200:
                raise InputError(f"tag key {key[:60]!r} needs a letter or digit (and at most 200 characters)")
            if not str(src).strip():
                raise InputError(f"no source column chosen for the tag {key!r}")
        return v

    @field_validator("date_formats")
    @classmethod
    def _formats_explicit(cls, v: list[str]) -> list[str]:
        for fmt in v:
            used = _DIRECTIVE.findall(fmt)
            if "y" in used:
                raise InputError(f"date format {fmt!r}: a two-digit year (%y) would be a guess; use a four-digit "
                                 "year (%Y)")
            odd = sorted(set(used) - _DIRECTIVES)
            if odd:
                raise InputError(f"date format {fmt!r}: unknown directive(s) {', '.join('%' + d for d in odd)}")
            if "Y" not in used or not {"m", "b", "B"} & set(used) or "d" not in used:
                raise InputError(f"date format {fmt!r} needs a four-digit year (%Y), a month (%m or %b) and a day "
                                 "(%d): a two-digit year or a missing part would be a guess")
        if len(set(v)) != len(v):
            raise InputError("each date format once (the list is an order: the first that reads a date wins)")
        return v

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
        table = self.target_table
        if table != "cost_line" and (self.tags or self.billing_period_from):
            raise InputError(f"tags and billing_period_from are for cost_line mappings, not {table}")
        if self.billing_period_from is not None:
            if "billing_period" in self.columns or "billing_period" in self.constants:
                raise InputError("billing_period comes from one place: a column, a constant or billing_period_from")
            if self.billing_period_from not in self.columns and self.billing_period_from not in self.constants:
                raise InputError(f"billing_period_from names {self.billing_period_from}, which the mapping does "
                                 "not fill (map it to a column first)")
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise InputError(f"{', '.join(both)}: a column or a constant, not both")
        have = set(self.columns) | set(self.constants) | ({"billing_period"} if self.billing_period_from else set())
        missing = [c for c in REQUIRED[self.target_table] if c not in have]
        if missing:
            raise InputError(f"a {self.target_table} mapping needs {', '.join(missing)} (a column or a constant)")
        if self.target_table == "asset" and not have & {"asset_id", "asset_tag", "serial"}:
            raise InputError("an asset mapping needs asset_id, asset_tag or serial to key the rows")
        return self
