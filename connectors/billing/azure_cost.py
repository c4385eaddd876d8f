"""Azure cost details exports: EA (PascalCase, `BillingCurrencyCode`) and MCA (camelCase, `billingCurrency`),
actual-cost or amortised-cost files, CSV or Parquet. Columns are matched by name, case-insensitively.

Column spellings read (docs/ingestion.md): EA PascalCase, MCA/partner camelCase, the legacy pay-as-you-go usage
details (`SubscriptionGuid`, `UsageDateTime`, `PreTaxCost`, `UsageQuantity`, `Currency`), OpenCost's reduced
lower-case billing-export template, and localised headers that carry the English name in parentheses
(`Abonnement-GUID (SubscriptionGuid)`). An export without any currency column (the template) is refused unless the
user names its currency (option `currency=USD`).

Mapping decisions (docs/ingestion.md):
- Dates are `MM/DD/YYYY` (Microsoft's documented format for EA/MCA cost details) or ISO 8601; nothing else is read,
  and a two-digit year (`4/1/25`) is quarantined, never placed in the year 25. A daily row covers
  [Date, Date + 1 day). The billing period is `BillingPeriodStartDate`, else (blank in koku's MCA and the partner
  samples, absent in legacy usage details) the month of the row's date.
- `BillingCurrencyCode`/`BillingCurrency` must be an ISO 4217 code: another value (koku's `MC`) is quarantined
  naming that column and the value.
- `Tags` is JSON, in EA often without its outer braces (`"a": "b","c": "d"`): braces are added before parsing.
  The EA `CostCenter` column becomes the `cost_center` tag when the tags carry none.
- Amortised file: effective = cost; commitment-covered usage was paid by the purchase, so billed = 0 there;
  `UnusedReservation`/`UnusedSavingsPlan` rows are unused commitment (billed 0, effective = cost, status Unused).
- Actual file: billed = cost; reservation/savings-plan purchases are amortised elsewhere, so their effective = 0.
  The file kind is taken from `cost_type` (option) or recognised from the rows.
- Service and region names come from the finops-toolkit lookups (connectors/_kit/azure_maps.py, MIT).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

from connectors._kit.azure_maps import REGIONS, SERVICES_BY_CONSUMED, SERVICES_BY_TYPE
from connectors._kit.billing_sql import (
    Source,
    columns_of,
    money,
    number,
    object_entries,
    open_source,
    require,
    string,
    timestamp,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.currencies import ISO_4217
from engine.ingest.contract.frames import run_plan_to_frame
from engine.ingest.contract.rules import ISO_FORMATS, US_FORMATS, Check, StagePlan, lit, normalise_enum

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "date": ("Date", "UsageDate", "UsageDateTime"),
    "period_start": ("BillingPeriodStartDate", "billingPeriodStartDate"),
    "account": ("BillingAccountId",),
    "subscription": ("SubscriptionId", "SubscriptionGuid"),
    "subscription_name": ("SubscriptionName",),
    "cost": ("CostInBillingCurrency", "Cost", "PreTaxCost"),
    "currency": ("BillingCurrencyCode", "BillingCurrency", "Currency"),
    "charge_type": ("ChargeType",),
    "frequency": ("Frequency",),
    "pricing_model": ("PricingModel",),
    "resource_id": ("ResourceId", "InstanceId"),
    "resource_name": ("ResourceName",),
    "location": ("ResourceLocation", "Location"),
    "meter_id": ("MeterId",),
    "meter_category": ("MeterCategory",),
    "consumed_service": ("ConsumedService",),
    "quantity": ("Quantity", "UsageQuantity"),
    "unit": ("UnitOfMeasure",),
    "payg_cost": ("PaygCostInBillingCurrency",),
    "payg_price": ("PayGPrice",),
    "benefit_id": ("BenefitId", "ReservationId"),
    "tags": ("Tags",),
    "cost_center": ("CostCenter",),
    "invoice": ("InvoiceId", "Invoice"),
    "product": ("ProductName", "Product"),
    "az": ("AvailabilityZone",),
}
CHARGE_CATEGORY = {"usage": "Usage", "unusedreservation": "Usage", "unusedsavingsplan": "Usage",
                   "purchase": "Purchase", "tax": "Tax", "refund": "Credit", "credit": "Credit",
                   "roundingadjustment": "Adjustment"}
PRICING_CATEGORY = {"ondemand": "Standard", "reservation": "Committed", "savingsplan": "Committed",
                    "spot": "Dynamic"}
COMMITTED = "('reservation', 'savingsplan')"
UNUSED = "('unusedreservation', 'unusedsavingsplan')"
AZURE_FORMATS = (*ISO_FORMATS, *US_FORMATS)
AZURE_DATE = "a date/time such as 09/21/2023 (MM/DD/YYYY, four-digit year) or 2023-09-21"
_LOCALISED = re.compile(r"^.*\S\s*\(([A-Za-z][A-Za-z0-9]*)\)$")


def english_name(column: str) -> str | None:
    """`Abonnement-GUID (SubscriptionGuid)` → `SubscriptionGuid`: localised Azure exports keep the English column
    name in parentheses after the translated one."""
    m = _LOCALISED.match(column.strip())
    return m.group(1) if m else None


def _values(rows: list[tuple[str | None, ...]]) -> str:
    return ", ".join("(" + ", ".join("NULL" if v is None else lit(v) for v in r) + ")" for r in rows)


LOOKUP_SQL = [
    "CREATE OR REPLACE TEMP TABLE __az_region (k VARCHAR, region_id VARCHAR, region_name VARCHAR)",
    f"INSERT INTO __az_region VALUES {_values([(k, *v) for k, v in REGIONS.items()])}",
    "CREATE OR REPLACE TEMP TABLE __az_type (k VARCHAR, service_name VARCHAR, service_category VARCHAR)",
    f"INSERT INTO __az_type VALUES {_values([(k, *v) for k, v in SERVICES_BY_TYPE.items()])}",
    "CREATE OR REPLACE TEMP TABLE __az_consumed (k VARCHAR, service_name VARCHAR, service_category VARCHAR)",
    f"INSERT INTO __az_consumed VALUES {_values([(k, *v) for k, v in SERVICES_BY_CONSUMED.items()])}",
]


class AzureCostConnector:
    name = "azure_cost"
    target_table = "cost_line"
    priority = 55
    loads_directly = True
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        names = columns_of(sniff)
        cols = {c.lower() for c in names} | {e.lower() for c in names if (e := english_name(c))}
        return bool(cols & {"costinbillingcurrency", "pretaxcost", "cost"}
                    and cols & {"subscriptionid", "subscriptionguid"}
                    and cols & {"metercategory", "consumedservice"})

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None,
             cost_type: str | None = None, currency: str | None = None, **_: Any) -> StagePlan:
        src = open_source(con, path, encoding)
        for column in list(src.types):
            english = english_name(column)
            if english:
                src.alias(english, column)
        n = {k: next((a for a in alts if src.has(a)), None) for k, alts in ALTERNATIVES.items()}
        warnings = list(src.warnings)
        chosen = self._chosen_currency(path, currency, n["currency"], src, warnings)
        require(src, path, ALTERNATIVES["date"], ALTERNATIVES["cost"], ALTERNATIVES["subscription"])
        checks: list[Check] = []

        def s_(k: str) -> str:
            name = n[k]
            return string(src, name) if name else "NULL"

        charge = f"lower({s_('charge_type')})"
        model = f"replace(lower({s_('pricing_model')}), ' ', '')"
        cost = money(src, n["cost"] or "", checks)
        amortised = self._is_amortised(con, src.sql, charge, model, cost, cost_type, path)
        if amortised:
            billed = f"CASE WHEN {charge} IN {UNUSED} OR ({charge} = 'usage' AND {model} IN {COMMITTED}) " \
                     f"THEN 0 ELSE {cost} END"
            effective = cost
        else:
            billed = cost
            effective = f"CASE WHEN {charge} = 'purchase' AND {model} IN {COMMITTED} THEN 0 ELSE {cost} END"
        day = timestamp(src, n["date"] or "", checks, AZURE_FORMATS, AZURE_DATE)
        period = (f"coalesce({timestamp(src, n['period_start'], checks, AZURE_FORMATS, AZURE_DATE)}, {day})"
                  if n["period_start"] else day)
        if chosen is None:   # the file's own currency column: an ISO 4217 code, else quarantined naming it
            raw_currency = s_("currency")
            codes = ", ".join(lit(x) for x in sorted(ISO_4217))
            checks.append(Check(n["currency"] or "", f"(upper({raw_currency}) NOT IN ({codes}))",
                                f"'expected an ISO 4217 currency code, got ' || left({raw_currency}, 20)"))
        currency_sql = lit(chosen) if chosen else f"upper({s_('currency')})"
        quantity = number(src, n["quantity"], checks) if n["quantity"] else "NULL"
        if n["payg_cost"]:
            list_cost = money(src, n["payg_cost"], checks)
        elif n["payg_price"]:
            list_cost = f"CAST({money(src, n['payg_price'], checks)} * {quantity} AS DECIMAL(38, 10))"
        else:
            list_cost = "NULL"
        res_id = s_("resource_id")
        cols: dict[str, str] = {
            "billing_period": f"strftime({period}, '%Y-%m')",
            "charge_period_start": day,
            "charge_period_end": f"{day} + INTERVAL 1 DAY",
            "provider": "'Microsoft'",
            "billing_account_id": s_("account"),
            "sub_account_id": s_("subscription"),
            "sub_account_name": s_("subscription_name"),
            "service_name": f"coalesce(s.__svc_name, {s_('meter_category')})",
            "service_category": "s.__svc_category",
            "resource_id": res_id,
            "resource_name": s_("resource_name"),
            "resource_type": f"nullif(regexp_extract(lower({res_id}), 'providers/([^/]+/[^/]+)', 1), '')",
            "region_id": f"coalesce(s.__region_id, lower(replace({s_('location')}, ' ', '')))",
            "region_name": f"coalesce(s.__region_name, {s_('location')})",
            "availability_zone": s_("az"),
            "sku_id": s_("meter_id"),
            "charge_category": f"coalesce({self._case(charge, CHARGE_CATEGORY)}, 'Adjustment')",
            "charge_frequency": normalise_enum(s_("frequency"), ("One-Time", "Recurring", "Usage-Based")),
            "pricing_category": f"coalesce({self._case(model, PRICING_CATEGORY)}, "
                                f"CASE WHEN {model} IS NOT NULL THEN 'Other' END)",
            "commitment_discount_id": s_("benefit_id"),
            "commitment_discount_type": f"CASE WHEN {model} = 'reservation' OR {charge} = 'unusedreservation' "
                                        f"THEN 'Reservation' WHEN {model} = 'savingsplan' OR "
                                        f"{charge} = 'unusedsavingsplan' THEN 'Savings Plan' END",
            "commitment_discount_status": f"CASE WHEN {charge} IN {UNUSED} THEN 'Unused' "
                                          f"WHEN {charge} = 'usage' AND {model} IN {COMMITTED} THEN 'Used' END",
            "billed_cost": billed,
            "effective_cost": effective,
            "list_cost": list_cost,
            "consumed_quantity": quantity,
            "consumed_unit": s_("unit"),
            "pricing_quantity": quantity,
            "pricing_unit": s_("unit"),
            "billing_currency": currency_sql,
            "invoice_id": s_("invoice"),
            "charge_description": s_("product"),
        }
        # tags text (braces added when the export left them out) and the EA CostCenter column, as one key
        raw_tags = s_("tags")
        braced = (f"CASE WHEN {raw_tags} IS NULL THEN NULL WHEN left({raw_tags}, 1) = '{{' THEN {raw_tags} "
                  f"ELSE '{{' || {raw_tags} || '}}' END")
        cc = s_("cost_center")
        tags_key = f"CASE WHEN {braced} IS NULL AND {cc} IS NULL THEN NULL ELSE json_array({braced}, {cc}) END"
        part0, part1 = "json_extract_string(k, '$[0]')", "json_extract_string(k, '$[1]')"
        tags_entries = (f"CASE WHEN {part0} IS NOT NULL AND {object_entries(part0)} IS NULL THEN NULL ELSE "
                        f"list_concat(coalesce({object_entries(part0)}, []), "
                        f"[{{'key': 'CostCenter', 'value': {part1}}}]) END")
        location, consumed = s_("location"), s_("consumed_service")
        rtype = f"nullif(regexp_extract(lower({res_id}), 'providers/([^/]+/[^/]+)', 1), '')"
        enriched = (
            f"SELECT s.*, r.region_id AS __region_id, r.region_name AS __region_name, "
            f"coalesce(t.service_name, c.service_name) AS __svc_name, "
            f"coalesce(t.service_category, c.service_category) AS __svc_category "
            f"FROM ({src.sql}) s LEFT JOIN __az_region r ON r.k = lower(trim({location})) "
            f"LEFT JOIN __az_type t ON t.k = {rtype} LEFT JOIN __az_consumed c ON c.k = lower({consumed})"
        )
        warnings.append(f"read as the {'amortised' if amortised else 'actual'}-cost export"
                        + ("" if amortised else "; load the amortised export for chargeback on effective cost"))
        return StagePlan(kind=self.name, target_table=self.target_table, source_sql=enriched, columns=cols,
                         checks=checks, warnings=warnings, rejects_sql=src.rejects_sql, setup_sql=list(LOOKUP_SQL),
                         tags_key=tags_key, tags_entries=tags_entries, tags_column=n["tags"] or "Tags")

    @staticmethod
    def _case(expr: str, table: dict[str, str]) -> str:
        whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in table.items())
        return f"CASE {expr} {whens} ELSE NULL END"

    @staticmethod
    def _chosen_currency(path: Path, currency: str | None, column: str | None, src: Source,
                         warnings: list[str]) -> str | None:
        """The currency the user named for an export that carries none; None when the file's column is read."""
        if column is not None:
            if currency:
                warnings.append(f"option currency={currency} not used: the column '{src.col(column)}' gives each "
                                "row's currency")
            return None
        if not currency:
            have = ", ".join(sorted(src.types)[:12])
            raise FileRefused(path.name, "a column named 'BillingCurrencyCode' or 'BillingCurrency' or 'Currency' "
                              f"(the header has: {have}{', …' if len(src.types) > 12 else ''}); this export does "
                              "not say its currency — name it (option currency, e.g. USD) to load it",
                              row=1, column="BillingCurrency")
        code = currency.strip().upper()
        if code not in ISO_4217:
            raise FileRefused(path.name, f"option currency: an ISO 4217 currency code (got '{currency[:20]}')")
        warnings.append(f"currency {code} as chosen by the user (the export has no currency column)")
        return code

    @staticmethod
    def _is_amortised(con: duckdb.DuckDBPyConnection, source_sql: str, charge: str, model: str, cost: str,
                      cost_type: str | None, path: Path) -> bool:
        """Unused-commitment rows, or committed usage carrying cost, exist only in the amortised export."""
        if cost_type:
            if cost_type.lower() not in ("actual", "amortized", "amortised"):
                raise FileRefused(path.name, f"cost_type 'actual' or 'amortised' (got '{cost_type}')")
            return cost_type.lower() != "actual"
        try:
            row = con.sql(
                f"SELECT coalesce(bool_or({charge} IN {UNUSED} OR ({charge} = 'usage' AND {model} IN {COMMITTED} "
                f"AND coalesce({cost}, 0) <> 0)), false) FROM ({source_sql}) s"
            ).fetchall()
        except duckdb.OutOfMemoryException:
            raise
        except duckdb.Error:
            # A line the reader cannot split with these options: the staging pass that follows reads the file with
            # the very same options, fails the same way and is retried with rejects on (or refuses the file in
            # its own words), so this provisional answer never decides a load.
            return False
        return bool(row[0][0])

    def parse(self, path: Path) -> ParseResult:
        return run_plan_to_frame(self, path)


CONNECTOR: Connector = AzureCostConnector()
