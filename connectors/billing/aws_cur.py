"""AWS Cost and Usage Report: legacy (`lineItem/UnblendedCost`, `resourceTags/user:*`) and CUR 2.0 (snake_case,
`resource_tags` map), CSV or Parquet.

Effective (amortised) cost follows the line item type exactly (samples README, AWS CUR docs):
SavingsPlanCoveredUsage → SavingsPlanEffectiveCost; SavingsPlanRecurringFee → TotalCommitmentToDate −
UsedCommitment (the unused plan); SavingsPlanNegation, SavingsPlanUpfrontFee → 0; DiscountedUsage →
reservation EffectiveCost; RIFee → UnusedAmortizedUpfrontFeeForBillingPeriod + UnusedRecurringFee (the unused RI);
Fee with a ReservationARN → 0; anything else → UnblendedCost. RIFee and SavingsPlanRecurringFee lines that carry
unused commitment are marked `commitment_discount_status = 'Unused'`; covered usage is 'Used'.
"""

from __future__ import annotations

import re
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
    string,
    tags_text,
    timestamp,
)
from engine.ingest.contract.connector import Connector, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.frames import run_plan_to_frame
from engine.ingest.contract.rules import ISO_FORMATS, Check, StagePlan, lit, q

# canonical field -> (legacy CUR name, CUR 2.0 name)
FIELDS: dict[str, tuple[str, str]] = {
    "line_item_id": ("identity/LineItemId", "identity_line_item_id"),
    "time_interval": ("identity/TimeInterval", "identity_time_interval"),
    "type": ("lineItem/LineItemType", "line_item_line_item_type"),
    "start": ("lineItem/UsageStartDate", "line_item_usage_start_date"),
    "end": ("lineItem/UsageEndDate", "line_item_usage_end_date"),
    "period_start": ("bill/BillingPeriodStartDate", "bill_billing_period_start_date"),
    "payer": ("bill/PayerAccountId", "bill_payer_account_id"),
    "usage_account": ("lineItem/UsageAccountId", "line_item_usage_account_id"),
    "product_code": ("lineItem/ProductCode", "line_item_product_code"),
    "product_name": ("product/ProductName", "product_product_name"),
    "resource_id": ("lineItem/ResourceId", "line_item_resource_id"),
    "region_code": ("product/regionCode", "product_region_code"),
    "region": ("product/region", "product_region"),
    "location": ("product/location", "product_location"),
    "az": ("lineItem/AvailabilityZone", "line_item_availability_zone"),
    "sku": ("product/sku", "product_sku"),
    "usage_type": ("lineItem/UsageType", "line_item_usage_type"),
    "unblended": ("lineItem/UnblendedCost", "line_item_unblended_cost"),
    "currency": ("lineItem/CurrencyCode", "line_item_currency_code"),
    "usage_amount": ("lineItem/UsageAmount", "line_item_usage_amount"),
    "unit": ("pricing/unit", "pricing_unit"),
    "term": ("pricing/term", "pricing_term"),
    "public_cost": ("pricing/publicOnDemandCost", "pricing_public_on_demand_cost"),
    "invoice": ("bill/InvoiceId", "bill_invoice_id"),
    "description": ("lineItem/LineItemDescription", "line_item_line_item_description"),
    "ri_arn": ("reservation/ReservationARN", "reservation_reservation_a_r_n"),
    "ri_effective": ("reservation/EffectiveCost", "reservation_effective_cost"),
    "ri_unused_upfront": ("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
                          "reservation_unused_amortized_upfront_fee_for_billing_period"),
    "ri_unused_recurring": ("reservation/UnusedRecurringFee", "reservation_unused_recurring_fee"),
    "sp_arn": ("savingsPlan/SavingsPlanARN", "savings_plan_savings_plan_a_r_n"),
    "sp_effective": ("savingsPlan/SavingsPlanEffectiveCost", "savings_plan_savings_plan_effective_cost"),
    "sp_total": ("savingsPlan/TotalCommitmentToDate", "savings_plan_total_commitment_to_date"),
    "sp_used": ("savingsPlan/UsedCommitment", "savings_plan_used_commitment"),
}

CHARGE_CATEGORY: dict[str, str] = {
    "Usage": "Usage", "DiscountedUsage": "Usage", "SavingsPlanCoveredUsage": "Usage",
    "SavingsPlanNegation": "Usage", "Tax": "Tax", "Credit": "Credit", "Refund": "Credit", "Discount": "Credit",
    "BundledDiscount": "Credit", "EdpDiscount": "Credit", "PrivateRateDiscount": "Credit",
    "DistributorDiscount": "Credit", "SppDiscount": "Credit", "Fee": "Purchase", "RIFee": "Purchase",
    "SavingsPlanRecurringFee": "Purchase", "SavingsPlanUpfrontFee": "Purchase",
}
CHARGE_FREQUENCY: dict[str, str] = {
    "Usage": "Usage-Based", "DiscountedUsage": "Usage-Based", "SavingsPlanCoveredUsage": "Usage-Based",
    "SavingsPlanNegation": "Usage-Based", "RIFee": "Recurring", "SavingsPlanRecurringFee": "Recurring",
    "SavingsPlanUpfrontFee": "One-Time", "Fee": "One-Time",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def cur2_name(legacy: str) -> str:
    """`lineItem/UnblendedCost` → `line_item_unblended_cost` (how CUR 2.0 spells the same column)."""
    return "_".join(_CAMEL.sub("_", part).lower() for part in legacy.split("/"))


def _case(expr: str, table: dict[str, str]) -> str:
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in table.items())
    return f"CASE {expr} {whens} ELSE NULL END"


class AwsCurConnector:
    name = "aws_cur"
    target_table = "cost_line"
    priority = 60
    loads_directly = True
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        cols = set(columns_of(sniff))
        return ({"lineItem/UnblendedCost", "lineItem/LineItemType"} <= cols
                or {"line_item_unblended_cost", "line_item_line_item_type"} <= cols)

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None,
             **_: Any) -> StagePlan:
        src = open_source(con, path, encoding)
        legacy = src.has("lineItem/LineItemType")
        names = {k: (v[0] if legacy else v[1]) for k, v in FIELDS.items()}
        if not legacy and not src.has(names["product_name"]) and src.has("product"):
            names["product_name"] = "__product_name"
        from connectors._kit.billing_sql import require  # noqa: PLC0415 - local to keep imports readable

        require(src, path, names["type"], names["start"], names["end"], names["period_start"], names["unblended"],
                names["currency"])
        checks: list[Check] = []

        def m(field: str) -> str:
            return money(src, names[field], checks) if src.has(names[field]) else "NULL"

        def z(field: str) -> str:
            return f"coalesce({m(field)}, 0)"

        typ = string(src, names["type"])
        ri_arn = string(src, names["ri_arn"]) if src.has(names["ri_arn"]) else "NULL"
        sp_arn = string(src, names["sp_arn"]) if src.has(names["sp_arn"]) else "NULL"
        unblended = m("unblended")
        effective = (
            f"CASE {typ} "
            f"WHEN 'SavingsPlanCoveredUsage' THEN {z('sp_effective')} "
            f"WHEN 'SavingsPlanRecurringFee' THEN {z('sp_total')} - {z('sp_used')} "
            f"WHEN 'SavingsPlanNegation' THEN 0 "
            f"WHEN 'SavingsPlanUpfrontFee' THEN 0 "
            f"WHEN 'DiscountedUsage' THEN {z('ri_effective')} "
            f"WHEN 'RIFee' THEN {z('ri_unused_upfront')} + {z('ri_unused_recurring')} "
            f"ELSE CASE WHEN {typ} = 'Fee' AND {ri_arn} IS NOT NULL THEN 0 ELSE {unblended} END END"
        )
        unused = (
            f"CASE WHEN {typ} = 'RIFee' AND ({z('ri_unused_upfront')} + {z('ri_unused_recurring')}) <> 0 "
            f"THEN 'Unused' WHEN {typ} = 'SavingsPlanRecurringFee' AND ({z('sp_total')} - {z('sp_used')}) <> 0 "
            f"THEN 'Unused' WHEN {typ} IN ('DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 'Used' END"
        )
        usage_type = string(src, names["usage_type"]) if src.has(names["usage_type"]) else "NULL"
        term = string(src, names["term"]) if src.has(names["term"]) else "NULL"
        pricing_category = (
            f"CASE WHEN {typ} IN ('DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 'Committed' "
            f"WHEN {typ} = 'Usage' AND (lower(coalesce({term}, '')) = 'spot' OR {usage_type} LIKE '%SpotUsage%') "
            f"THEN 'Dynamic' WHEN {typ} = 'Usage' THEN 'Standard' END"
        )

        def s_(field: str) -> str:
            return string(src, names[field]) if src.has(names[field]) else "NULL"

        # CUR writes ISO 8601 only (2023-06-01T00:00:00Z, 2023-06-01 00:00:00): nothing else is read
        period_start = timestamp(src, names["period_start"], checks, ISO_FORMATS)
        cols: dict[str, str] = {
            "billing_period": f"strftime({period_start}, '%Y-%m')",
            "charge_period_start": timestamp(src, names["start"], checks, ISO_FORMATS),
            "charge_period_end": timestamp(src, names["end"], checks, ISO_FORMATS),
            "provider": "'AWS'",
            "billing_account_id": s_("payer"),
            "sub_account_id": s_("usage_account"),
            "service_name": f"coalesce({s_('product_name')}, {s_('product_code')})",
            "resource_id": s_("resource_id"),
            "region_id": f"coalesce({s_('region_code')}, {s_('region')})",
            "region_name": s_("location"),
            "availability_zone": s_("az"),
            "sku_id": s_("sku"),
            "charge_category": f"coalesce({_case(typ, CHARGE_CATEGORY)}, 'Adjustment')",
            "charge_frequency": _case(typ, CHARGE_FREQUENCY),
            "pricing_category": pricing_category,
            "commitment_discount_id": f"CASE WHEN {typ} IN ('DiscountedUsage', 'RIFee', 'Fee') THEN {ri_arn} "
                                      f"WHEN {typ} LIKE 'SavingsPlan%' THEN {sp_arn} END",
            "commitment_discount_status": unused,
            "commitment_discount_type": f"CASE WHEN {typ} IN ('DiscountedUsage', 'RIFee') THEN 'Reservation' "
                                        f"WHEN {typ} LIKE 'SavingsPlan%' THEN 'Savings Plan' END",
            "billed_cost": unblended,
            "effective_cost": effective,
            "list_cost": m("public_cost"),
            "consumed_quantity": number(src, names["usage_amount"], checks) if src.has(names["usage_amount"])
            else "NULL",
            "consumed_unit": s_("unit"),
            "pricing_quantity": number(src, names["usage_amount"], []) if src.has(names["usage_amount"])
            else "NULL",
            "pricing_unit": s_("unit"),
            "billing_currency": f"upper({s_('currency')})",
            "invoice_id": s_("invoice"),
            "charge_description": s_("description"),
        }
        source_sql = src.sql
        if names["product_name"] == "__product_name":
            product = ("s.product['product_name']" if src.type_of("product").startswith("MAP")
                       else "json_extract_string(TRY_CAST(s.product AS JSON), '$.product_name')")
            source_sql = f"SELECT s.*, {product} AS __product_name FROM ({source_sql}) s"
            cols["service_name"] = f"coalesce(nullif(trim(s.__product_name), ''), {s_('product_code')})"
        key = (names["line_item_id"], names["time_interval"])
        tags_key, tags_entries, tags_column = self._tags(src, legacy)
        plan = StagePlan(kind=self.name, target_table=self.target_table, source_sql=source_sql, columns=cols,
                         checks=checks, natural_key=(), warnings=list(src.warnings), rejects_sql=src.rejects_sql,
                         tags_key=tags_key, tags_entries=tags_entries, tags_column=tags_column)
        if all(src.has(k) for k in key):
            plan.source_sql = self._dedupe_source(plan.source_sql, src, key)
            plan.checks.insert(0, Check(
                "+".join(key), "(s.__dup_first IS NOT NULL)",
                f"'duplicate natural key (' || {string(src, key[0])} || ', ' || {string(src, key[1])} || "
                f"'), first at row ' || s.__dup_first"))
        return plan

    @staticmethod
    def _dedupe_source(source_sql: str, src: Source, key: tuple[str, str]) -> str:
        """A repeated (line item id, time interval) is the same line delivered twice: keep the first."""
        k = ", ".join(f"s.{q(src.col(c) or c)}" for c in key)
        return (f"SELECT s.*, CASE WHEN count(*) OVER w > 1 AND row_number() OVER w > 1 "
                f"THEN first_value(s.__row) OVER w END AS __dup_first FROM ({source_sql}) s "
                f"WINDOW w AS (PARTITION BY {k} ORDER BY s.__row ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)")

    @staticmethod
    def _tags(src: Source, legacy: bool) -> tuple[str | None, str | None, str]:
        """Legacy: one column per tag (`resourceTags/user:CostCenter`); CUR 2.0: a `resource_tags` map whose keys
        carry a `user_` prefix. The prefix is dropped before the key is normalised."""
        if legacy:
            tag_cols = [c for c in src.types if c.startswith("resourceTags/")]
            if not tag_cols:
                return None, None, "resourceTags"
            entries = ", ".join(
                f"{{'key': {lit(re.sub(r'^(user|aws):', '', c.split('/', 1)[1]))}, "
                f"'value': nullif(trim(CAST(s.{q(c)} AS VARCHAR)), '')}}"
                for c in tag_cols)
            key = f"nullif(CAST(to_json(list_filter([{entries}], lambda x: x.value IS NOT NULL)) AS VARCHAR), '[]')"
            return key, "TRY_CAST(TRY_CAST(k AS JSON) AS STRUCT(key VARCHAR, value VARCHAR)[])", "resourceTags"
        if src.has("resource_tags"):
            strip = (f"list_transform({object_entries('k')}, "
                     "lambda x: {'key': regexp_replace(x.key, '^(user_|user:)', ''), 'value': x.value})")
            return tags_text(src, "resource_tags"), strip, "resource_tags"
        return None, None, "resource_tags"

    def parse(self, path: Path) -> ParseResult:
        return run_plan_to_frame(self, path)


CONNECTOR: Connector = AwsCurConnector()
