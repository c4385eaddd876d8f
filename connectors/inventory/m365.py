"""Microsoft 365 licences from Microsoft Graph: `subscribedSkus` → licence_entitlement, `users` → licence_assignment.

Decision: a *pair of files*, each exactly what Graph returns, rather than one combined document. An admin gets them
from Graph Explorer or `Invoke-MgGraphRequest` without any scripting, each loads into its own table as its own batch
(so either can be re-delivered or rolled back alone), and the usual cadence differs (SKUs monthly with the invoice,
users weekly).

- `GET /v1.0/subscribedSkus` → `{"value": [{"skuId", "skuPartNumber", "capabilityStatus", "consumedUnits",
  "prepaidUnits": {"enabled", "suspended", "warning", "lockedOut"}, "appliesTo", "servicePlans"}]}`.
  Product = `skuPartNumber`; entitlements = `prepaidUnits.enabled` (suspended/warning units are going away and are
  reported in a warning). Graph carries no price, so `unit_cost_month` loads as 0 with a warning: set prices on the
  licence page (or load a price list through a generic mapping) before allocating licence cost.
- `GET /v1.0/users?$select=userPrincipalName,department,employeeOrgData,assignedLicenses,signInActivity`
  (optionally `$expand=licenseDetails`) → `{"value": [...]}`, or a list of such pages. One assignment per user and
  assigned SKU; cost centre = `employeeOrgData.costCenter`, else `department`; last_active =
  `signInActivity.lastSignInDateTime`. A user's `assignedLicenses` holds only SKU GUIDs, so the product name comes from
  `licenseDetails` when expanded, else from Microsoft's published GUID → string-id table (well-known SKUs below),
  else 'sku:<guid>' with a warning — load the subscribedSkus file first and the licence page can relabel those.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors._kit.source_rows import (
    ASSIGNMENT_SCHEMA,
    ENTITLEMENT_SCHEMA,
    Collector,
    FramePlan,
    RowError,
    parse_date,
    read_json,
    username,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean

# From Microsoft's "Product names and service plan identifiers for licensing" (GUID → String_Id).
WELL_KNOWN_SKUS: dict[str, str] = {
    "18181a46-0d4e-45cd-891e-60aabd171b4e": "STANDARDPACK",
    "6fd2c87f-b296-42f0-b197-1e91e994b900": "ENTERPRISEPACK",
    "c7df2760-2c81-4ef7-b578-5b5392b571df": "ENTERPRISEPREMIUM",
    "05e9a617-0261-4cee-bb44-138d3ef5d965": "SPE_E3",
    "06ebc4ee-1bb5-47dd-8120-11324bc54e06": "SPE_E5",
    "66b55226-6b4f-492c-910c-a3b7a3c9d993": "SPE_F1",
    "4b585984-651b-448a-9e53-3b10f069cf7f": "DESKLESSPACK",
    "efccb6f7-5641-4e0e-bd10-b4976e1bf68e": "EMS",
    "f8a1db68-be16-40ed-86d5-cb42ce701560": "POWER_BI_PRO",
    "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235": "POWER_BI_STANDARD",
    "c5928f49-12ba-48f7-ada3-0d743a3601d5": "VISIOCLIENT",
    "53818b1b-4a27-454b-8896-0dba576410e6": "PROJECTPROFESSIONAL",
    "f30db892-07e9-47e9-837c-80727f46fd3d": "FLOW_FREE",
    "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46": "SPB",
    "f245ecc8-75af-4f8e-b61f-27d8114de5f3": "O365_BUSINESS_PREMIUM",
    "3b555118-da6a-4418-894f-7df1e2096870": "O365_BUSINESS_ESSENTIALS",
    "710779e8-3d4a-4c88-adb9-386c958d1fdf": "TEAMS_EXPLORATORY",
    "078d2b04-f1bd-4111-bbd4-b4b1b354cef4": "AAD_PREMIUM",
    "84a661c4-e949-4bd2-a560-ed7766fcaf2b": "AAD_PREMIUM_P2",
    "26124093-3d78-432b-b5dc-48bf992543d5": "IDENTITY_THREAT_PROTECTION",
}


def _values(doc: Any, path: Path) -> list[Any]:
    pages = doc if isinstance(doc, list) else [doc]
    out: list[Any] = []
    for p in pages:
        if isinstance(p, dict) and isinstance(p.get("value"), list):
            out.extend(p["value"])
        elif isinstance(p, dict) and ("skuPartNumber" in p or "userPrincipalName" in p):
            out.append(p)
        else:
            raise FileRefused(path.name, "a Microsoft Graph response ({\"value\": [...]}) of subscribedSkus or users")
    return out


@dataclass(frozen=True)
class M365Connector(FramePlan):
    name: str = "m365"
    target_table: str = "licence_assignment"   # per file: subscribedSkus → licence_entitlement
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        head = sniff.head.decode("utf-8-sig", errors="replace")
        return ('"skuPartNumber"' in head and '"prepaidUnits"' in head) or (
            '"userPrincipalName"' in head and '"assignedLicenses"' in head)

    def parse(self, path: Path) -> ParseResult:
        items = _values(read_json(path), path)
        first = next((i for i in items if isinstance(i, dict)), {})
        if "skuPartNumber" in first or "prepaidUnits" in first:
            return self._skus(path, items)
        return self._users(path, items)

    def _skus(self, path: Path, items: list[Any]) -> ParseResult:
        out = Collector(path.name, ENTITLEMENT_SCHEMA)
        pending = 0
        for n, sku in enumerate(items, start=1):
            out.rows_read += 1
            if not isinstance(sku, dict):
                out.refuse(n, None, "SKU is not a JSON object", sku)
                continue
            product = clean(sku.get("skuPartNumber"))
            if product is None:
                out.refuse(n, "skuPartNumber", "missing skuPartNumber", sku)
                continue
            units = sku.get("prepaidUnits") or {}
            enabled = units.get("enabled")
            if not isinstance(enabled, int) or isinstance(enabled, bool) or enabled < 0:
                out.refuse(n, "prepaidUnits.enabled", f"expected a whole number ≥ 0, got {enabled!r}", sku)
                continue
            pending += int(units.get("warning") or 0) + int(units.get("suspended") or 0)
            out.accept(n, {"product": product, "vendor": "Microsoft", "entitlements": enabled,
                           "unit_cost_month": Decimal("0")}, sku, key=product, key_column="skuPartNumber")
        out.warnings.append("Graph carries no prices: unit_cost_month loaded as 0; set each SKU's monthly price "
                            "before allocating licence cost")
        if pending:
            out.warnings.append(f"{pending} units in warning/suspended state are not counted as entitlements")
        res = out.result(self.name, "licence_entitlement")
        return res

    def _users(self, path: Path, items: list[Any]) -> ParseResult:
        out = Collector(path.name, ASSIGNMENT_SCHEMA)
        unknown: set[str] = set()
        for n, user in enumerate(items, start=1):
            out.rows_read += 1
            if not isinstance(user, dict):
                out.refuse(n, None, "user is not a JSON object", user)
                continue
            upn = clean(user.get("userPrincipalName"))
            if upn is None:
                out.refuse(n, "userPrincipalName", "missing userPrincipalName", user)
                continue
            licences = user.get("assignedLicenses") or []
            if not isinstance(licences, list):
                out.refuse(n, "assignedLicenses", "assignedLicenses is not a list", user)
                continue
            details = {str(d.get("skuId")).lower(): clean(d.get("skuPartNumber"))
                       for d in user.get("licenseDetails") or [] if isinstance(d, dict)}
            org = user.get("employeeOrgData") or {}
            cc = clean(org.get("costCenter") if isinstance(org, dict) else None) or clean(user.get("department"))
            try:
                last = parse_date((user.get("signInActivity") or {}).get("lastSignInDateTime"),
                                  "signInActivity.lastSignInDateTime")
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, user)
                continue
            name = username(upn)
            assert name is not None
            for lic in licences:
                sku = str((lic or {}).get("skuId") or "").lower()
                if not sku:
                    continue
                product = details.get(sku) or WELL_KNOWN_SKUS.get(sku)
                if product is None:
                    unknown.add(sku)
                    product = f"sku:{sku}"
                out.accept(n, {"product": product, "username": name, "cost_center_id": cc, "assigned_on": None,
                               "last_active": last}, user, key=f"{product}|{name}", key_column="assignedLicenses")
        if unknown:
            out.warnings.append(f"{len(unknown)} SKU ids not recognised; loaded as 'sku:<guid>': "
                                + ", ".join(sorted(unknown)))
        return out.result(self.name, "licence_assignment")


CONNECTOR: Connector = M365Connector()
