"""FOCUS 1.0–1.4 cost and usage exports, CSV or Parquet, matched by column name (order is not guaranteed).

Mapping decisions (docs/ingestion.md): `ServiceProviderName`, else the deprecated `ProviderName`; literal `NULL` is
null; enum casing is normalised (`Usage-based` → `Usage-Based`); tag keys are normalised (engine/tags/). For 1.3+
`Allocated*` split rows, the allocated resource and tags become the line's resource and tags; an unsplit origin row
whose cost the split rows carry is quarantined with that reason, so its cost is never counted twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from connectors._kit.billing_sql import (
    Source,
    columns_of,
    money,
    number,
    object_entries,
    open_source,
    require,
    string,
    tags_text,
    timestamp,
)
from engine.ingest.contract.connector import Connector, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.frames import run_plan_to_frame
from engine.ingest.contract.rules import RULES, Check, StagePlan, normalise_enum

ENUMS = RULES["cost_line"].enums

# canonical column -> FOCUS column(s), first present wins
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "billing_account_id": ("BillingAccountId",),
    "sub_account_id": ("SubAccountId",),
    "sub_account_name": ("SubAccountName",),
    "service_name": ("ServiceName",),
    "service_category": ("ServiceCategory",),
    "resource_type": ("ResourceType",),
    "region_id": ("RegionId",),
    "region_name": ("RegionName",),
    "availability_zone": ("AvailabilityZone",),
    "sku_id": ("SkuId",),
    "commitment_discount_id": ("CommitmentDiscountId",),
    "commitment_discount_type": ("CommitmentDiscountType",),
    "consumed_unit": ("ConsumedUnit",),
    "pricing_unit": ("PricingUnit",),
    "invoice_id": ("InvoiceId",),
    "charge_description": ("ChargeDescription",),
    "allocated_method_id": ("AllocatedMethodId",),
}
ENUM_COLUMNS: dict[str, str] = {
    "charge_category": "ChargeCategory",
    "charge_class": "ChargeClass",
    "charge_frequency": "ChargeFrequency",
    "pricing_category": "PricingCategory",
    "commitment_discount_status": "CommitmentDiscountStatus",
}


def _first(src: Source, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if src.has(n)), None)


class FocusConnector:
    name = "focus"
    target_table = "cost_line"
    priority = 50
    loads_directly = True
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        cols = {c.lower() for c in columns_of(sniff)}
        return {"billedcost", "effectivecost", "chargeperiodstart", "billingcurrency"} <= cols

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None,
             **_: Any) -> StagePlan:
        src = open_source(con, path, encoding)
        require(src, path, "BilledCost", "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency",
                "BillingPeriodStart", ("ServiceProviderName", "ProviderName"))
        checks: list[Check] = []
        provider = _first(src, ("ServiceProviderName", "ProviderName"))
        warnings = []
        if provider == "ProviderName" or (provider and provider.lower() == "providername"):
            warnings.append("ProviderName is deprecated since FOCUS 1.3; read as ServiceProviderName")
        split = src.has("AllocatedMethodId")
        alloc = src.col("AllocatedTags")
        own = tags_text(src, "Tags") if src.has("Tags") else "CAST(NULL AS VARCHAR)"
        if alloc:
            # allocated tags first: on a split row they win over the resource's own tags
            mine = tags_text(src, alloc)
            tags_key = f"CASE WHEN {mine} IS NULL AND {own} IS NULL THEN NULL ELSE json_array({mine}, {own}) END"
            part0, part1 = "json_extract_string(k, '$[0]')", "json_extract_string(k, '$[1]')"
            tags_entries = (
                f"CASE WHEN ({part0} IS NOT NULL AND {object_entries(part0)} IS NULL) OR "
                f"({part1} IS NOT NULL AND {object_entries(part1)} IS NULL) THEN NULL ELSE "
                f"list_concat(coalesce({object_entries(part0)}, []), coalesce({object_entries(part1)}, [])) END")
        else:
            tags_key, tags_entries = own, object_entries("k")
        source_sql = src.sql
        if split:
            keys = ", ".join(src.ref(c) for c in ("ResourceId", "ChargePeriodStart", "ChargePeriodEnd", "SkuId",
                                                   "ChargeCategory") if src.has(c))
            source_sql = (f"SELECT s.*, bool_or({src.ref('AllocatedMethodId')} IS NOT NULL AND "
                          f"trim(CAST({src.ref('AllocatedMethodId')} AS VARCHAR)) NOT IN ('', 'NULL')) "
                          f"OVER (PARTITION BY {keys}) AS __has_split FROM ({source_sql}) s")
        period_start = timestamp(src, "BillingPeriodStart", checks)
        cols: dict[str, str] = {
            "billing_period": f"strftime({period_start}, '%Y-%m')",
            "charge_period_start": timestamp(src, "ChargePeriodStart", checks),
            "charge_period_end": timestamp(src, "ChargePeriodEnd", checks),
            "provider": string(src, provider or "ServiceProviderName"),
            "billed_cost": money(src, "BilledCost", checks),
            "effective_cost": money(src, "EffectiveCost", checks),
            "list_cost": money(src, "ListCost", checks),
            "contracted_cost": money(src, "ContractedCost", checks),
            "consumed_quantity": number(src, "ConsumedQuantity", checks),
            "pricing_quantity": number(src, "PricingQuantity", checks),
            "billing_currency": f"upper({string(src, 'BillingCurrency')})",
        }
        for canon, names in TEXT_COLUMNS.items():
            found = _first(src, names)
            if found:
                cols[canon] = string(src, found)
        for canon, focus_name in ENUM_COLUMNS.items():
            if src.has(focus_name):
                cols[canon] = normalise_enum(src.ref(focus_name), ENUMS[canon])
        res_id = string(src, "ResourceId")
        res_name = string(src, "ResourceName")
        if split:
            cols["resource_id"] = f"coalesce({string(src, 'AllocatedResourceId')}, {res_id})"
            cols["resource_name"] = f"coalesce({string(src, 'AllocatedResourceName')}, {res_name})"
            checks.insert(0, Check(
                "AllocatedMethodId",
                f"(s.__has_split AND {string(src, 'AllocatedMethodId')} IS NULL)",
                "'origin of provider-side split rows (AllocatedMethodId): its cost is carried by the split rows, "
                "so it is not loaded twice'",
            ))
        else:
            cols["resource_id"] = res_id
            cols["resource_name"] = res_name
        return StagePlan(kind=self.name, target_table=self.target_table, source_sql=source_sql,
                         columns=cols, checks=checks, warnings=warnings, rejects_sql=src.rejects_sql,
                         tags_key=tags_key, tags_entries=tags_entries, tags_column=alloc or "Tags")

    def parse(self, path: Path) -> ParseResult:
        return run_plan_to_frame(self, path)


def focus_columns() -> list[str]:
    """The FOCUS columns this connector reads (documentation and tests)."""
    names = [n for ns in TEXT_COLUMNS.values() for n in ns] + list(ENUM_COLUMNS.values())
    return sorted(set(names) | {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity",
                                "PricingQuantity", "BillingCurrency", "BillingPeriodStart", "ChargePeriodStart",
                                "ChargePeriodEnd", "ServiceProviderName", "ProviderName", "ResourceId",
                                "ResourceName", "Tags", "AllocatedResourceId", "AllocatedResourceName",
                                "AllocatedTags"})


CONNECTOR: Connector = FocusConnector()
