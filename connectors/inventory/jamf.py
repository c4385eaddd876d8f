"""Jamf Pro computers → asset, from either export a Jamf admin can produce.

- Jamf Pro API `GET /api/v1/computers-inventory?section=GENERAL&section=HARDWARE&section=USER_AND_LOCATION&
  section=PURCHASING` saved as JSON: `{"totalCount": n, "results": [{"id", "general": {...}, "hardware": {...},
  "userAndLocation": {...}, "purchasing": {...}}]}` (a plain list of pages or of results is accepted too). The API
  gives department and building as ids (`departmentId`, `buildingId`), so those ids are what lands in
  cost_center_id/location; the Advanced Search CSV carries the names.
- Advanced Search → Export CSV: display-name headers (`Serial Number`, `Asset Tag`, `Username`, `Department`,
  `Building`, `PO Number`, `PO Date`, `Purchase Price`, `Warranty Expiration`, `Life Expectancy`, ...).

- Jamf Pro Classic API `GET /JSSResource/computers/id/{id}` (Accept: application/json) saved as JSON:
  `{"computer": {"general": {...}, "location": {...}, "purchasing": {...}, "hardware": {...}}}`, or several of them
  as a list. It carries department and building as names (`location.department`), serial and asset tag under
  `general`. The Classic list endpoint (`{"computers": [{"id", "name"}]}`) holds no inventory and is refused.

Life expectancy is in years in Jamf; the asset model counts months. Purchase price arrives as text ("1,299.00").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors._kit.source_rows import (
    ASSET_SCHEMA,
    Collector,
    FramePlan,
    RowError,
    asset_record,
    count_columns,
    lookup,
    parse_date,
    parse_money,
    parse_number,
    read_csv_rows,
    read_json,
    username,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean, serial_key, tag_key

_CSV_MARKERS = ("Jamf Pro Computer ID", "Computer Name", "PO Number", "PO Date", "Life Expectancy",
                "Warranty Expiration", "AppleCare ID", "Purchase Price", "Building", "Department", "Managed",
                "Last Check-in", "Purchasing Account", "Lease Expiration")


def mac_class(model: str | None) -> str:
    """MacBooks are laptops, iMac/mini/Studio/Pro desktops, Xserve a server; an unknown model counts as laptop
    because that is most of any Jamf fleet."""
    m = (model or "").lower()
    if "xserve" in m:
        return "server"
    if any(k in m for k in ("imac", "mac mini", "macmini", "mac studio", "mac pro")) and "macbook" not in m:
        return "desktop"
    return "laptop"


def _life_months(value: Any, column: str) -> int | None:
    years = parse_number(value, column)
    if years is None or years == 0:
        return None
    if years > 30:
        raise RowError(column, f"life expectancy {years:g} years in {column} is absurd (expected years, <= 30)")
    return round(years * 12)


@dataclass(frozen=True)
class JamfConnector(FramePlan):
    name: str = "jamf"
    target_table: str = "asset"
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = "discovery"

    def detect(self, sniff: Sniff) -> bool:
        if sniff.columns:
            return count_columns(sniff.columns, ("Serial Number",)) == 1 and count_columns(
                sniff.columns, _CSV_MARKERS) >= 3
        head = sniff.head.decode("utf-8-sig", errors="replace")
        if not head.lstrip().startswith(("{", "[")):
            return False
        classic = '"computer"' in head and '"general"' in head and any(
            k in head for k in ('"serial_number"', '"udid"', '"jamf_version"'))
        # the Classic list endpoint ({"computers": [{"id", "name"}]}): claimed so that parse can say what it lacks
        listing = re.match(r'\s*\{\s*"computers"\s*:\s*\[', head) is not None and '"computer"' not in head
        return classic or listing or ('"results"' in head and any(
            k in head for k in ('"userAndLocation"', '"purchasing"', '"hardware"', '"udid"')))

    def parse(self, path: Path) -> ParseResult:
        with open(path, "rb") as f:
            first = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()[:1]
        return self._parse_json(path) if first in ("{", "[") else self._parse_csv(path)

    def _parse_json(self, path: Path) -> ParseResult:
        doc = read_json(path)
        items = doc if isinstance(doc, list) else [doc]
        if items and all(isinstance(i, dict) and isinstance(i.get("computer"), dict) for i in items):
            return self._parse_classic(path, [i["computer"] for i in items])
        if isinstance(doc, dict) and isinstance(doc.get("computers"), list):
            raise FileRefused(path.name, "Jamf computer records with their inventory (GET /JSSResource/computers/id/"
                              "{id}, or the Jamf Pro API computers-inventory); this is the Classic list endpoint, "
                              "which holds only ids and names", row=1)
        pages = items
        computers: list[Any] = []
        for page in pages:
            if isinstance(page, dict) and isinstance(page.get("results"), list):
                computers.extend(page["results"])
            elif isinstance(page, dict) and "hardware" in page:
                computers.append(page)
            else:
                raise FileRefused(path.name, "Jamf Pro computers-inventory JSON ({\"totalCount\", \"results\": [...]})")
        out = Collector(path.name, ASSET_SCHEMA)
        dept_ids = 0
        for n, c in enumerate(computers, start=1):
            out.rows_read += 1
            if not isinstance(c, dict):
                out.refuse(n, None, "computer record is not a JSON object", c)
                continue
            general, hardware = c.get("general") or {}, c.get("hardware") or {}
            user, purchasing = c.get("userAndLocation") or {}, c.get("purchasing") or {}
            fields = {
                "serial": hardware.get("serialNumber"), "asset_tag": general.get("assetTag"),
                "model": hardware.get("model"), "vendor": hardware.get("make") or "Apple",
                "owner": user.get("username"), "department": user.get("departmentId"),
                "building": user.get("buildingId"), "room": user.get("room"), "po": purchasing.get("poNumber"),
                "po_date": purchasing.get("poDate"), "price": purchasing.get("purchasePrice"),
                "warranty": purchasing.get("warrantyDate"), "life": purchasing.get("lifeExpectancy"),
                "leased": purchasing.get("leased"),
            }
            if clean(fields["department"]) is not None and str(fields["department"]).strip().lstrip("-").isdigit():
                dept_ids += 1
                fields["department"] = None   # an id means nothing to allocation; names come from /v1/departments
            self._add(out, n, fields, c, cols={"serial": "hardware.serialNumber", "po_date": "purchasing.poDate",
                                               "price": "purchasing.purchasePrice",
                                               "warranty": "purchasing.warrantyDate",
                                               "life": "purchasing.lifeExpectancy"})
        if dept_ids:
            out.warnings.append(f"{dept_ids} computers name their department only by id (Jamf API); cost centre left "
                                "empty — export Advanced Search CSV or map ids via /v1/departments")
        return out.result(self.name, self.target_table)

    def _parse_classic(self, path: Path, computers: list[dict[str, Any]]) -> ParseResult:
        """Jamf Pro Classic API computer records (`{"computer": {...}}`): names, not ids, for department/building."""
        out = Collector(path.name, ASSET_SCHEMA)
        for n, c in enumerate(computers, start=1):
            out.rows_read += 1
            general, hardware = c.get("general") or {}, c.get("hardware") or {}
            location, purchasing = c.get("location") or {}, c.get("purchasing") or {}
            fields = {
                "serial": general.get("serial_number"), "asset_tag": general.get("asset_tag"),
                "model": hardware.get("model"), "vendor": hardware.get("make") or "Apple",
                "owner": location.get("username"), "department": location.get("department"),
                "building": location.get("building"), "room": location.get("room"),
                "po": purchasing.get("po_number"), "po_date": purchasing.get("po_date"),
                "price": purchasing.get("purchase_price"), "warranty": purchasing.get("warranty_expires"),
                "life": purchasing.get("life_expectancy"), "leased": purchasing.get("is_leased"),
            }
            self._add(out, n, fields, {"computer": c}, cols={
                "serial": "general.serial_number", "po_date": "purchasing.po_date",
                "price": "purchasing.purchase_price", "warranty": "purchasing.warranty_expires",
                "life": "purchasing.life_expectancy"})
        return out.result(self.name, self.target_table)

    def _parse_csv(self, path: Path) -> ParseResult:
        _, rows = read_csv_rows(path)
        out = Collector(path.name, ASSET_SCHEMA)
        for n, row in rows:
            out.rows_read += 1
            fields = {
                "serial": lookup(row, "Serial Number"), "asset_tag": lookup(row, "Asset Tag"),
                "model": lookup(row, "Model", "Model Identifier"), "vendor": lookup(row, "Make") or "Apple",
                "owner": lookup(row, "Username", "User Name"), "department": lookup(row, "Department"),
                "building": lookup(row, "Building"), "room": lookup(row, "Room"), "po": lookup(row, "PO Number"),
                "po_date": lookup(row, "PO Date"), "price": lookup(row, "Purchase Price"),
                "warranty": lookup(row, "Warranty Expiration"), "life": lookup(row, "Life Expectancy"),
                "leased": None,
            }
            self._add(out, n, fields, row, cols={"serial": "Serial Number", "po_date": "PO Date",
                                                 "price": "Purchase Price", "warranty": "Warranty Expiration",
                                                 "life": "Life Expectancy"})
        return out.result(self.name, self.target_table)

    def _add(self, out: Collector, n: int, f: dict[str, Any], raw: Any, *, cols: dict[str, str]) -> None:
        serial = serial_key(f["serial"])
        if serial is None:
            out.refuse(n, cols["serial"], "missing serial", raw)
            return
        building, room = clean(f["building"]), clean(f["room"])
        try:
            rec = asset_record(
                self.name, serial,
                serial=serial,
                asset_tag=tag_key(f["asset_tag"]),
                **{"class": mac_class(clean(f["model"]))},
                model=clean(f["model"]),
                vendor=clean(f["vendor"]),
                owner=username(f["owner"]),
                cost_center_id=clean(f["department"]),
                location=" / ".join(p for p in (building, room) if p) or None,
                lifecycle_status="in_use",
                purchase_date=parse_date(f["po_date"], cols["po_date"]),
                cost=parse_money(f["price"], cols["price"]),
                useful_life_months=_life_months(f["life"], cols["life"]),
                depreciation_method="straight_line" if f["leased"] is not True else None,
                purchase_order=clean(f["po"]),
                warranty_expires=parse_date(f["warranty"], cols["warranty"]),
            )
        except RowError as exc:
            out.refuse(n, exc.column, exc.reason, raw)
            return
        out.accept(n, rec, raw, key=serial, key_column=cols["serial"])


CONNECTOR: Connector = JamfConnector()
