"""A posted run's allocated cost as FOCUS 1.0 rows, for FOCUS-native BI (docs/journals.md, "FOCUS out").

One row per posted allocation row (step × pool × target), in the column names of FOCUS 1.0 (the oldest version the
ingest side reads, connectors/billing/focus.py, and the only released one the FinOps Foundation's focus-validator
1.0.0 checks), plus `x_` columns that say how the charge was built. Decisions:
- Cost: the posted cents. BilledCost, EffectiveCost, ListCost and ContractedCost all carry them, because a run
  allocates one basis (`x_CostBasis`: effective or billed); nothing is re-priced here.
- Who: BillingAccountId is the company code (the internal chargeback's "account"), SubAccountId the receiving cost
  centre (empty on the UNALLOCATED line), ResourceId the receiving application when the target is one. Provider,
  publisher and invoice issuer are the internal IT organisation (`PROVIDER`).
- What: ServiceName is the step's name; ServiceCategory follows the pool (`SERVICE_CATEGORY`, else "Other");
  ChargeCategory is Usage and ChargeFrequency Recurring (a monthly internal recharge). FOCUS 1.0 wants SkuId and
  SkuPriceId on every Usage row: the SKU is the pool, its price the rule version's step that priced it
  (`demo_default v1 step 1 network`: one SkuPriceId, one SkuId). Columns with no meaning for an internal charge
  (region, commitment, quantities, unit prices) are present and empty, as FOCUS allows.
- Periods are the allocation period's dates (the fiscal calendar's window: the month, or its weeks under 4-4-5)
  in UTC ISO 8601 (`2026-10-01T00:00:00Z`, end exclusive).
- The file is the same bytes for the same run (rows ordered by step, pool, target; tags as sorted JSON).
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import polars as pl

from engine.fiscal.calendar import FiscalCalendar
from engine.outputs.exports import to_csv_bytes, to_parquet_bytes
from engine.outputs.journals.entries import resolve_run
from engine.settings import Settings, get_settings

FOCUS_VERSION = "1.0"
PROVIDER = "Internal IT"
SERVICE_CATEGORY: dict[str, str] = {
    "network": "Networking", "security": "Security", "backup": "Storage", "k8s_platform": "Compute",
    "it_overhead": "Management and Governance",
}
MONEY = pl.Decimal(18, 2)
FOCUS_COLUMNS: tuple[str, ...] = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
    "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
    "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
    "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId",
    "ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId",
    "SubAccountName", "Tags",
)
X_COLUMNS: tuple[str, ...] = (
    "x_AllocationTargetKind", "x_AllocationTargetId", "x_AllocationStep", "x_AllocationStepName",
    "x_AllocationMethod", "x_AllocationDriver", "x_AllocationSourcePool", "x_AllocationShare", "x_AllocationRunKey",
    "x_AllocationRuleSet", "x_AllocationRuleVersion", "x_CostBasis",
)
_TEXT_NULLS = ("AvailabilityZone", "ChargeClass", "CommitmentDiscountCategory", "CommitmentDiscountId",
               "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType", "ConsumedUnit",
               "PricingCategory", "PricingUnit", "RegionId", "RegionName")
_NUMBER_NULLS = ("ConsumedQuantity", "ContractedUnitPrice", "ListUnitPrice", "PricingQuantity")


def _iso(d: date) -> str:
    return f"{d.isoformat()}T00:00:00Z"


def rows(con: duckdb.DuckDBPyConnection, period: str, run_key: str | None = None, *,
         settings: Settings | None = None) -> pl.DataFrame:
    """The run's allocated cost as FOCUS 1.0 rows (default run: the locked close, else the latest posted run)."""
    s = settings or get_settings()
    key, _ = resolve_run(con, period, run_key)
    start, end = FiscalCalendar(s.fiscal_year_start_month, s.fiscal_period_scheme).window(period)
    data = con.execute(
        "SELECT r.step, coalesce(r.step_name, r.source_pool), r.source_pool, r.method, r.driver, r.target_kind,"
        " r.target_id, r.cost_center_id, cc.name, bu.unit_id, r.app_id, a.name, r.share, r.posted_amount,"
        " run.rule_set, run.rule_version, run.basis"
        " FROM allocation_result r JOIN allocation_run run USING (run_key)"
        " LEFT JOIN org_unit cc ON cc.unit_id = r.cost_center_id"
        " LEFT JOIN org_unit bu ON bu.unit_id = cc.parent_id"
        " LEFT JOIN application a ON a.app_id = r.app_id"
        " WHERE r.run_key = ? ORDER BY r.step, r.source_pool, r.target_kind, r.target_id", [key]).fetchall()
    out: list[dict[str, object]] = []
    for (step, step_name, pool, method, driver, kind, target, cc, cc_name, bu, app, app_name, share, amount,
         rule_set, rule_version, basis) in data:
        tags = {k: v for k, v in (("business_unit", bu), ("cost_center", cc), ("application", app)) if v}
        description = f"{step_name}: {pool} to {kind} {target} by {method}" + (f" ({driver})" if driver else "")
        out.append({
            "BilledCost": amount, "BillingAccountId": s.company_code,
            "BillingAccountName": f"IT chargeback, company {s.company_code}", "BillingCurrency": s.currency,
            "BillingPeriodEnd": _iso(end), "BillingPeriodStart": _iso(start), "ChargeCategory": "Usage",
            "ChargeDescription": description, "ChargeFrequency": "Recurring", "ChargePeriodEnd": _iso(end),
            "ChargePeriodStart": _iso(start), "ContractedCost": amount, "EffectiveCost": amount,
            "InvoiceIssuerName": PROVIDER, "ListCost": amount, "ProviderName": PROVIDER, "PublisherName": PROVIDER,
            "ResourceId": app, "ResourceName": app_name, "ResourceType": "Application" if app else None,
            "ServiceCategory": SERVICE_CATEGORY.get(pool, "Other"), "ServiceName": step_name, "SkuId": pool,
            "SkuPriceId": f"{rule_set} v{rule_version} step {step} {pool}", "SubAccountId": cc,
            "SubAccountName": cc_name, "Tags": json.dumps(tags, sort_keys=True),
            "x_AllocationTargetKind": kind, "x_AllocationTargetId": target, "x_AllocationStep": step,
            "x_AllocationStepName": step_name, "x_AllocationMethod": method, "x_AllocationDriver": driver,
            "x_AllocationSourcePool": pool, "x_AllocationShare": share, "x_AllocationRunKey": key,
            "x_AllocationRuleSet": rule_set, "x_AllocationRuleVersion": rule_version, "x_CostBasis": basis,
        })
    schema: dict[str, pl.DataType] = {}
    for col in FOCUS_COLUMNS + X_COLUMNS:
        if col in ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost"):
            schema[col] = MONEY
        elif col in _NUMBER_NULLS or col == "x_AllocationShare":
            schema[col] = pl.Float64()
        elif col in ("x_AllocationStep", "x_AllocationRuleVersion"):
            schema[col] = pl.Int64()
        else:
            schema[col] = pl.String()
    for r in out:
        for col in _TEXT_NULLS + _NUMBER_NULLS:
            r.setdefault(col, None)
    return pl.DataFrame(out, schema=schema, orient="row")


def export(con: duckdb.DuckDBPyConnection, period: str, run_key: str | None = None, *, fmt: str = "csv"
           ) -> tuple[pl.DataFrame, bytes]:
    """The FOCUS rows and their bytes as CSV (default) or Parquet, text neutralised against formulas."""
    frame = rows(con, period, run_key)
    return frame, (to_parquet_bytes(frame) if fmt == "parquet" else to_csv_bytes(frame))
