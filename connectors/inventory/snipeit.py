"""Snipe-IT hardware export (Assets list → Export, or Reports → Custom Asset Report) → asset.

Headers are Snipe-IT's English labels (`Asset Tag`, `Asset Name`, `Serial`, `Model`, `Model No.`, `Category`,
`Manufacturer`, `Status`, `Checked Out To`, `Location`, `Purchase Date`, `Purchase Cost`, `Order Number`,
`Supplier`, `EOL`, `Warranty`, `Warranty Expires`, `Company`). Asset Tag is Snipe-IT's unique key, so it is the
natural key here and a row without one is quarantined. Useful life comes from `EOL` − `Purchase Date` when both are
dates (Snipe-IT derives EOL from the model's EOL months), else from an `EOL` given in months.

The REST API's `GET /api/v1/hardware` response saved as JSON (`{"total": n, "rows": [...]}`) loads too: references
are objects (`model.name`, `category.name`, `manufacturer.name`, `location.name`, `company.name`), dates are
`{"date": ..., "formatted": ...}`, `assigned_to` names a user (its `username` becomes the owner), another asset or a
location (then the asset is in use but has no owner). A response holding fewer rows than its `total` (one page of a
paginated listing) loads what it has and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
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
    read_json,
    read_table,
    username,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean, serial_key, tag_key

_MARKERS = ("Asset Tag", "Asset Name", "Serial", "Model No.", "Checked Out To", "Purchase Cost", "Order Number",
            "Supplier", "EOL", "Warranty Expires", "Default Location", "Category", "Status", "Company", "Book Value")

_STATUS = {"deployed": "in_use", "checked out": "in_use", "ready to deploy": "in_stock", "pending": "in_stock",
           "out for repair": "in_stock", "broken": "in_stock", "archived": "retired", "undeployable": "retired",
           "lost/stolen": "disposed", "lost": "disposed", "stolen": "disposed", "disposed": "disposed"}


def category_class(category: str | None) -> str:
    c = (category or "").lower()
    for words, cls in ((("laptop", "notebook", "macbook"), "laptop"), (("server",), "server"),
                       (("storage", "nas", "san"), "storage"),
                       (("switch", "router", "firewall", "network", "access point"), "network"),
                       (("desktop", "workstation", "pc", "tablet", "mobile", "phone"), "desktop")):
        if any(w in c for w in words):
            return cls
    return "other"


def _months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + (end.month - start.month)


@dataclass(frozen=True)
class SnipeItConnector(FramePlan):
    name: str = "snipeit"
    target_table: str = "asset"
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = "record"

    def detect(self, sniff: Sniff) -> bool:
        cols = sniff.columns
        if cols:
            return count_columns(cols, ("Asset Tag",)) == 1 and count_columns(cols, ("Serial",)) == 1 and \
                count_columns(cols, _MARKERS) >= 5
        head = sniff.head.decode("utf-8-sig", errors="replace").lstrip()
        return head.startswith("{") and '"rows"' in head and '"total"' in head and all(
            f'"{k}"' in head for k in ("asset_tag", "serial", "status_label"))

    def parse(self, path: Path) -> ParseResult:
        with open(path, "rb") as f:
            first = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()[:1]
        if first in ("{", "["):
            return self._parse_api(path)
        _, rows = read_table(path)
        out = Collector(path.name, ASSET_SCHEMA)
        for n, row in rows:
            out.rows_read += 1
            tag = tag_key(lookup(row, "Asset Tag"))
            if tag is None:
                out.refuse(n, "Asset Tag", "missing asset tag", row)
                continue
            try:
                purchased = parse_date(lookup(row, "Purchase Date"), "Purchase Date")
                life = self._life(lookup(row, "EOL"), purchased)
                status = clean(lookup(row, "Status"))
                checked_out = clean(lookup(row, "Checked Out To", "Assigned To"))
                state = _STATUS.get(re.sub(r"\s*\(.*\)$", "", status or "").strip().lower())
                rec = asset_record(
                    self.name, tag,
                    asset_tag=tag,
                    serial=serial_key(lookup(row, "Serial")),
                    **{"class": category_class(clean(lookup(row, "Category")))},
                    model=clean(lookup(row, "Model")),
                    vendor=clean(lookup(row, "Manufacturer")),
                    owner=username(checked_out),
                    cost_center_id=clean(lookup(row, "Department", "Cost Center", "Company")),
                    location=clean(lookup(row, "Location", "Default Location")),
                    lifecycle_status=state or ("in_use" if checked_out else None),
                    purchase_date=purchased,
                    cost=parse_money(lookup(row, "Purchase Cost"), "Purchase Cost"),
                    useful_life_months=life,
                    depreciation_method="straight_line" if life else None,
                    purchase_order=clean(lookup(row, "Order Number")),
                    warranty_expires=parse_date(lookup(row, "Warranty Expires"), "Warranty Expires"),
                )
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, row)
                continue
            out.accept(n, rec, row, key=tag, key_column="Asset Tag")
        return out.result(self.name, self.target_table)

    def _parse_api(self, path: Path) -> ParseResult:
        """`GET /api/v1/hardware` as saved: {"total": n, "rows": [asset, ...]} (a bare list of assets too)."""
        doc = read_json(path)
        if isinstance(doc, dict) and isinstance(doc.get("rows"), list):
            rows: list[Any] = doc["rows"]
            total = doc.get("total")
        elif isinstance(doc, list):
            rows, total = doc, None
        else:
            raise FileRefused(path.name, 'a Snipe-IT hardware listing ({"total": n, "rows": [...]}, the response of '
                              "GET /api/v1/hardware)", row=1)
        out = Collector(path.name, ASSET_SCHEMA)
        for n, row in enumerate(rows, start=1):
            out.rows_read += 1
            if not isinstance(row, dict):
                out.refuse(n, None, "asset record is not a JSON object", row)
                continue
            tag = tag_key(row.get("asset_tag"))
            if tag is None:
                out.refuse(n, "asset_tag", "missing asset tag", row)
                continue
            assigned = row.get("assigned_to")
            owner = None
            if isinstance(assigned, dict) and assigned.get("type") == "user":
                owner = username(assigned.get("username") or assigned.get("name"))
            label = row.get("status_label")
            status: dict[str, Any] = label if isinstance(label, dict) else {}
            state = _STATUS_META.get(str(status.get("status_meta") or "").lower()) or _STATUS.get(
                str(status.get("name") or "").strip().lower())
            try:
                purchased = parse_date(_date(row.get("purchase_date")), "purchase_date")
                life = self._life(_date(row.get("asset_eol_date")) or row.get("eol"), purchased)
                rec = asset_record(
                    self.name, tag,
                    asset_tag=tag,
                    serial=serial_key(row.get("serial")),
                    **{"class": category_class(_name(row.get("category")))},
                    model=_name(row.get("model")),
                    vendor=_name(row.get("manufacturer")),
                    owner=owner,
                    cost_center_id=_name(row.get("company")),
                    location=_name(row.get("location")) or _name(row.get("rtd_location")),
                    lifecycle_status=state or ("in_use" if assigned else None),
                    purchase_date=purchased,
                    cost=parse_money(row.get("purchase_cost"), "purchase_cost"),
                    useful_life_months=life,
                    depreciation_method="straight_line" if life else None,
                    purchase_order=clean(row.get("order_number")),
                    warranty_expires=parse_date(_date(row.get("warranty_expires")), "warranty_expires"),
                )
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, row)
                continue
            out.accept(n, rec, row, key=tag, key_column="asset_tag")
        if isinstance(total, int) and total > len(rows):
            out.warnings.append(f"the response holds {len(rows)} of {total} assets (one page of a paginated "
                                "listing): fetch every page (limit/offset) for the whole register")
        return out.result(self.name, self.target_table)

    @staticmethod
    def _life(eol: object, purchased: date | None) -> int | None:
        text = clean(eol)
        if text is None:
            return None
        m = re.fullmatch(r"(\d+)\s*(months?)?", text, flags=re.IGNORECASE)
        if m:
            return int(m.group(1)) or None
        end = parse_date(text, "EOL")
        if end is None or purchased is None:
            return None
        months = _months_between(purchased, end)
        if months <= 0:
            raise RowError("EOL", f"EOL {end} is not after purchase date {purchased}")
        return months


# status_label.status_meta: "deployed" when checked out, else the status type
_STATUS_META = {"deployed": "in_use", "deployable": "in_stock", "pending": "in_stock", "undeployable": "retired",
                "archived": "retired"}


def _name(ref: Any) -> str | None:
    """A Snipe-IT reference object's name ({"id": 1, "name": "Laptops"}), or plain text."""
    return clean(ref.get("name")) if isinstance(ref, dict) else clean(ref)


def _date(value: Any) -> Any:
    """Snipe-IT API dates are {"date": "2023-01-31", "formatted": "..."} (datetimes carry "datetime")."""
    if isinstance(value, dict):
        return value.get("date") or value.get("datetime")
    return value


CONNECTOR: Connector = SnipeItConnector()
