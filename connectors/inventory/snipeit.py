"""Snipe-IT hardware export (Assets list → Export, or Reports → Custom Asset Report) → asset.

Headers are Snipe-IT's English labels (`Asset Tag`, `Asset Name`, `Serial`, `Model`, `Model No.`, `Category`,
`Manufacturer`, `Status`, `Checked Out To`, `Location`, `Purchase Date`, `Purchase Cost`, `Order Number`,
`Supplier`, `EOL`, `Warranty`, `Warranty Expires`, `Company`). Asset Tag is Snipe-IT's unique key, so it is the
natural key here and a row without one is quarantined. Useful life comes from `EOL` − `Purchase Date` when both are
dates (Snipe-IT derives EOL from the model's EOL months), else from an `EOL` given in months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

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
    read_table,
    username,
)
from engine.ingest.contract.connector import Connector, InventoryRole, ParseResult, Sniff
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
        return count_columns(cols, ("Asset Tag",)) == 1 and count_columns(cols, ("Serial",)) == 1 and count_columns(
            cols, _MARKERS) >= 5

    def parse(self, path: Path) -> ParseResult:
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


CONNECTOR: Connector = SnipeItConnector()
