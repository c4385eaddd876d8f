"""FOCUS 1.0–1.4 cost and usage exports, CSV or Parquet, matched by column name (order is not guaranteed).

Mapping decisions (docs/ingestion.md): `ServiceProviderName`, else `ProviderName` (the provider column of FOCUS
1.0–1.2, deprecated from 1.3: a file carrying a column introduced in 1.3 gets the deprecation warning, an older one
does not); a literal `null` in any case (`NULL`, `null`, `Null`) is null in every text column; enum casing is
normalised (`Usage-based` → `Usage-Based`); tag keys are normalised (engine/tags/). Dates are ISO 8601, as FOCUS
requires: a slash date (`4/1/25`, `04/01/2025`) is quarantined with its column and text, never read in a guessed
day/month order or century. For 1.3+ `Allocated*` split rows, the allocated resource and tags become the line's
resource and tags; an unsplit origin row whose cost the split rows carry is quarantined with that reason, so its
cost is never counted twice; the split row keeps the file's own ResourceId as `origin_resource_id` and its
AllocatedMethodDetails as text. The commitment, capacity-reservation, SKU
price, contract and pricing-currency columns (TEXT_COLUMNS, JSON_COLUMNS, DETAIL_ENUMS, PRICING_AMOUNTS) are plain
reads: JSON columns are kept as their text, never parsed per row.
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
from engine.ingest.contract.rules import ISO_FORMATS, RULES, Check, StagePlan, normalise_enum, q

ENUMS = RULES["cost_line"].enums
# Columns FOCUS 1.3 introduced: a file with any of them is 1.3 or later, where ProviderName is deprecated.
FOCUS_13_COLUMNS = ("ServiceProviderName", "HostProviderName", "AllocatedMethodId", "AllocatedMethodDetails",
                    "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags", "ContractApplied")
ISO_DATE = ("a date/time in ISO 8601 such as 2024-09-01T00:00:00Z (FOCUS requires it; a slash date's day/month "
            "order and century would be a guess)")

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
    # detail kept for audit (migration 0026): stored as written, NULL when the file lacks the column
    "commitment_discount_name": ("CommitmentDiscountName",),
    "commitment_discount_unit": ("CommitmentDiscountUnit",),
    "capacity_reservation_id": ("CapacityReservationId",),
    "service_subcategory": ("ServiceSubcategory",),
    "sku_price_id": ("SkuPriceId",),
    "pricing_currency": ("PricingCurrency",),
}
# JSON-object columns (FOCUS 1.3), kept as their text: no per-row parsing on the bulk path
JSON_COLUMNS: dict[str, str] = {
    "allocated_method_details": "AllocatedMethodDetails",
    "contract_applied": "ContractApplied",
}
# FOCUS allowed values: the casing is normalised, an unknown value is kept as written (a detail column never
# quarantines a bill line)
DETAIL_ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "commitment_discount_category": ("CommitmentDiscountCategory", ("Spend", "Usage")),
    "capacity_reservation_status": ("CapacityReservationStatus", ("Used", "Unused")),
}
# the cost in PricingCurrency (FOCUS 1.2), not BillingCurrency: stored beside the billed amounts, never added to
# them (the PricingCurrency unit prices are not kept: every stored column costs every line of a 10M-line load)
PRICING_AMOUNTS: dict[str, str] = {
    "pricing_currency_effective_cost": "PricingCurrencyEffectiveCost",
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


def _null_literals(src: Source) -> None:
    """Every text column reads a literal `null` in any case as NULL (the FOCUS spec's own example files write
    `null`; the contract's `text()` knows only `NULL`). Only the columns a plan reads are computed (DuckDB drops
    the others from the projection), and the byte length is tested first so that ILIKE runs on 4-byte cells only:
    a fifth of the cost of a bare ILIKE (docs/ingestion.md has the measurement)."""
    cols = [c for c, t in src.types.items() if t.upper().startswith("VARCHAR")]
    if cols:
        repl = ", ".join(f"CASE WHEN strlen({q(c)}) = 4 AND {q(c)} ILIKE 'null' THEN NULL ELSE {q(c)} END AS {q(c)}"
                         for c in cols)
        src.sql = f"SELECT * REPLACE ({repl}) FROM ({src.sql})"


def _json_text(src: Source, name: str) -> str:
    """A JSON-object column as text: CSV and JSON-typed cells as written, a nested Parquet column as JSON."""
    t = src.type_of(name)
    if t.startswith(("STRUCT", "MAP")) or t.endswith("]"):
        return f"CAST(to_json({src.ref(name)}) AS VARCHAR)"
    return string(src, name)


class FocusConnector:
    name = "focus"
    target_table = "cost_line"
    priority = 50
    loads_directly = True
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        cols = {c.lower() for c in columns_of(sniff)}
        # the cost pair and the charge period make a file FOCUS-shaped even when a required column is missing,
        # so the refusal names that column instead of "not a recognised format"
        return {"billedcost", "effectivecost", "chargeperiodstart"} <= cols and bool(
            cols & {"billingcurrency", "chargeperiodend"})

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None,
             **_: Any) -> StagePlan:
        src = open_source(con, path, encoding)
        _null_literals(src)
        require(src, path, "BilledCost", "EffectiveCost", "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency",
                "BillingPeriodStart", ("ServiceProviderName", "ProviderName"))
        checks: list[Check] = []
        provider = _first(src, ("ServiceProviderName", "ProviderName"))
        warnings = list(src.warnings)
        if provider and provider.lower() == "providername":
            newer = [c for c in FOCUS_13_COLUMNS if src.has(c)]
            if newer:
                warnings.append(f"ProviderName is deprecated since FOCUS 1.3 (this file has the 1.3 column "
                                f"{newer[0]}); read as ServiceProviderName")
            else:
                warnings.append("read as FOCUS 1.0–1.2 (ProviderName, no column introduced in 1.3): the provider "
                                "is ProviderName")
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
        period_start = timestamp(src, "BillingPeriodStart", checks, ISO_FORMATS, ISO_DATE)
        cols: dict[str, str] = {
            "billing_period": f"strftime({period_start}, '%Y-%m')",
            "charge_period_start": timestamp(src, "ChargePeriodStart", checks, ISO_FORMATS, ISO_DATE),
            "charge_period_end": timestamp(src, "ChargePeriodEnd", checks, ISO_FORMATS, ISO_DATE),
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
        for canon, (focus_name, values) in DETAIL_ENUMS.items():
            if src.has(focus_name):
                cols[canon] = normalise_enum(src.ref(focus_name), values)
        for canon, focus_name in JSON_COLUMNS.items():
            if src.has(focus_name):
                cols[canon] = _json_text(src, focus_name)
        for canon, focus_name in PRICING_AMOUNTS.items():
            if src.has(focus_name):
                cols[canon] = money(src, focus_name, checks)
        if src.has("CommitmentDiscountQuantity"):
            cols["commitment_discount_quantity"] = number(src, "CommitmentDiscountQuantity", checks)
        res_id = string(src, "ResourceId")
        res_name = string(src, "ResourceName")
        if split:
            cols["resource_id"] = f"coalesce({string(src, 'AllocatedResourceId')}, {res_id})"
            cols["resource_name"] = f"coalesce({string(src, 'AllocatedResourceName')}, {res_name})"
            # the resource the provider split the cost from, kept on the split rows only
            cols["origin_resource_id"] = f"CASE WHEN {string(src, 'AllocatedMethodId')} IS NOT NULL THEN {res_id} END"
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
    names = ([n for ns in TEXT_COLUMNS.values() for n in ns] + list(ENUM_COLUMNS.values())
             + list(JSON_COLUMNS.values()) + [n for n, _ in DETAIL_ENUMS.values()] + list(PRICING_AMOUNTS.values()))
    return sorted(set(names) | {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity",
                                "PricingQuantity", "BillingCurrency", "BillingPeriodStart", "ChargePeriodStart",
                                "ChargePeriodEnd", "ServiceProviderName", "ProviderName", "ResourceId",
                                "ResourceName", "Tags", "AllocatedResourceId", "AllocatedResourceName",
                                "AllocatedTags", "CommitmentDiscountQuantity"})


CONNECTOR: Connector = FocusConnector()
