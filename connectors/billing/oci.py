"""Oracle Cloud Infrastructure cost reports (the proprietary `reports/cost-csv` files: `lineItem/…`, `product/…`,
`usage/…`, `cost/…`, `tags/…` columns), CSV, matched by name.

Mapping decisions (docs/ingestion.md):
- One line per resource and usage interval: `lineItem/intervalUsageStart`/`…End` are the charge period (ISO 8601,
  with or without seconds: `2023-11-13T10:00Z`); a cost report has no billing period column, so the billing period
  is the month of the interval start (as finopsfoundation/focus_converters does).
- Billed and effective cost are `cost/myCost` (the line's cost at the tenancy's own prices; scientific notation is
  read exactly). A line with a non-zero `cost/myCostOverage` is quarantined: whether `cost/myCost` already includes
  the overage is not stated by the report, and a guess would count it twice or not at all.
- Provider `Oracle`; billing account = tenancy (`lineItem/tenantId`); sub-account = compartment; service, SKU,
  region, availability domain and resource from the `product/` and `cost/` columns; `lineItem/isCorrection = true`
  is charge class `Correction`; every line is usage (`Usage`, `Usage-Based`).
- Tags: one column per tag (`tags/<namespace>.<key>` for defined tags, `tags/<key>` for free-form ones); the key is
  the text after `tags/`, normalised like every tag key (engine/tags/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from connectors._kit.billing_sql import columns_of, money, number, open_source, require, string, timestamp
from engine.ingest.contract.connector import Connector, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.frames import run_plan_to_frame
from engine.ingest.contract.rules import ISO_FORMATS, Check, StagePlan, lit, q

MARKERS = ("lineItem/referenceNo", "lineItem/intervalUsageStart", "cost/myCost")
TEXT: dict[str, str] = {
    "billing_account_id": "lineItem/tenantId",
    "sub_account_id": "product/compartmentId",
    "sub_account_name": "product/compartmentName",
    "service_name": "product/service",
    "charge_description": "product/Description",
    "sku_id": "cost/productSku",
    "resource_id": "product/resourceId",
    "region_id": "product/region",
    "availability_zone": "product/availabilityDomain",
    "pricing_unit": "cost/skuUnitDescription",
    "consumed_unit": "cost/skuUnitDescription",
}
OCI_DATE = "a date/time in ISO 8601 such as 2023-11-13T10:00Z"


class OciCostReportConnector:
    name = "oci_cost"
    target_table = "cost_line"
    priority = 55
    loads_directly = True
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        cols = {c.lower() for c in columns_of(sniff)}
        return {m.lower() for m in MARKERS} <= cols

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None,
             **_: Any) -> StagePlan:
        src = open_source(con, path, encoding)
        require(src, path, "lineItem/intervalUsageStart", "lineItem/intervalUsageEnd", "cost/myCost",
                "cost/currencyCode")
        checks: list[Check] = []
        start = timestamp(src, "lineItem/intervalUsageStart", checks, ISO_FORMATS, OCI_DATE)
        cost = money(src, "cost/myCost", checks)
        cols: dict[str, str] = {
            "billing_period": f"strftime({start}, '%Y-%m')",
            "charge_period_start": start,
            "charge_period_end": timestamp(src, "lineItem/intervalUsageEnd", checks, ISO_FORMATS, OCI_DATE),
            "provider": "'Oracle'",
            "billed_cost": cost,
            "effective_cost": cost,
            "billing_currency": f"upper({string(src, 'cost/currencyCode')})",
            "charge_category": "'Usage'",
            "charge_frequency": "'Usage-Based'",
        }
        for canon, column in TEXT.items():
            if src.has(column):
                cols[canon] = string(src, column)
        if src.has("usage/billedQuantity"):
            cols["pricing_quantity"] = number(src, "usage/billedQuantity", checks)
            cols["consumed_quantity"] = number(src, "usage/billedQuantity", [])
        if src.has("lineItem/isCorrection"):
            cols["charge_class"] = (f"CASE WHEN lower({string(src, 'lineItem/isCorrection')}) = 'true' "
                                    f"THEN 'Correction' END")
        if src.has("cost/myCostOverage"):
            overage = money(src, "cost/myCostOverage", checks)
            checks.append(Check(
                "cost/myCostOverage", f"(coalesce({overage}, 0) <> 0)",
                f"'cost/myCostOverage is ' || {string(src, 'cost/myCostOverage')} || ': the report does not say "
                f"whether cost/myCost includes it, so the line is not loaded rather than counted twice or not at all'"))
        tags_key, tags_entries = self._tags(src.types)
        return StagePlan(kind=self.name, target_table=self.target_table, source_sql=src.sql, columns=cols,
                         checks=checks, warnings=list(src.warnings), rejects_sql=src.rejects_sql,
                         tags_key=tags_key, tags_entries=tags_entries, tags_column="tags/*")

    @staticmethod
    def _tags(types: dict[str, str]) -> tuple[str | None, str | None]:
        """One column per tag; the row's non-empty ones as a [{key, value}] list (the dictionary key)."""
        tag_cols = [c for c in types if c.lower().startswith("tags/")]
        if not tag_cols:
            return None, None
        entries = ", ".join(f"{{'key': {lit(c.split('/', 1)[1])}, 'value': nullif(trim(CAST(s.{q(c)} AS VARCHAR)), "
                            f"'')}}" for c in tag_cols)
        key = f"nullif(CAST(to_json(list_filter([{entries}], lambda x: x.value IS NOT NULL)) AS VARCHAR), '[]')"
        return key, "TRY_CAST(TRY_CAST(k AS JSON) AS STRUCT(key VARCHAR, value VARCHAR)[])"

    def parse(self, path: Path) -> ParseResult:
        return run_plan_to_frame(self, path)


CONNECTOR: Connector = OciCostReportConnector()
