"""SCCM / ConfigMgr hardware inventory → asset.

ConfigMgr has no single export format: admins run a query over the site database views (v_R_System,
v_GS_SYSTEM_ENCLOSURE, v_GS_COMPUTER_SYSTEM, v_GS_SYSTEM_CONSOLE_USAGE_MAXGROUP) or a hardware report and save it as
CSV. So the connector accepts the raw view column names (`Name0`, `SerialNumber0`, `SMBIOSAssetTag0`,
`ChassisTypes0`, `TopConsoleUser0`, `SiteCode`/`SMS_Assigned_Sites0`) and the usual report aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from connectors._kit.source_rows import (
    ASSET_SCHEMA,
    Collector,
    FramePlan,
    RowError,
    asset_record,
    count_columns,
    lookup,
    read_csv_rows,
    username,
)
from engine.ingest.contract.connector import Connector, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean, serial_key, tag_key

NAME = ("Name0", "Netbios_Name0", "Computer Name", "ComputerName", "Name", "Device Name", "DeviceName")
SERIAL = ("SerialNumber0", "Serial Number", "SerialNumber", "Serial")
TAG = ("SMBIOSAssetTag0", "Asset Tag", "AssetTag", "SMBIOS Asset Tag")
CHASSIS = ("ChassisTypes0", "Chassis Type", "ChassisType", "Chassis Types")
TOP_USER = ("TopConsoleUser0", "Top Console User", "TopUser", "Top User", "Primary User")
SITE = ("SiteCode", "SMS_Assigned_Sites0", "Site Code", "Site", "AD_Site_Name0", "AD Site")
VENDOR = ("Manufacturer0", "Manufacturer")
MODEL = ("Model0", "Model")

# Columns that only a ConfigMgr query or report has; two of them (plus a serial) make the file ours.
_MARKERS = ("ResourceID", "SerialNumber0", "SMBIOSAssetTag0", "ChassisTypes0", "TopConsoleUser0", "Netbios_Name0",
            "SMS_Assigned_Sites0", "Manufacturer0", "Model0", "Name0", "Top Console User", "Chassis Type")

# Win32_SystemEnclosure.ChassisTypes (SMBIOS): what the chassis says the machine is.
_CHASSIS_CLASS: dict[int, str] = {
    **dict.fromkeys((3, 4, 5, 6, 7, 13, 15, 16, 24, 34, 35, 36), "desktop"),
    **dict.fromkeys((8, 9, 10, 11, 12, 14, 30, 31, 32), "laptop"),
    **dict.fromkeys((17, 23, 25, 28, 29), "server"),
}


def chassis_class(value: object) -> str:
    """The first chassis code in '10', '{10}' or '8,10' decides; unknown codes (1 Other, 2 Unknown) → 'desktop'
    only when nothing better is known, which is what ConfigMgr's own 'Computers by chassis' report does."""
    codes = [int(c) for c in re.findall(r"\d+", str(value or ""))]
    for c in codes:
        if c in _CHASSIS_CLASS:
            return _CHASSIS_CLASS[c]
    return "desktop" if not codes or codes[0] in (1, 2) else "other"


@dataclass(frozen=True)
class SccmConnector(FramePlan):
    name: str = "sccm"
    target_table: str = "asset"
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = "discovery"

    def detect(self, sniff: Sniff) -> bool:
        cols = sniff.columns
        return count_columns(cols, SERIAL) > 0 and count_columns(cols, _MARKERS) >= 2 and count_columns(
            cols, CHASSIS + TOP_USER + ("ResourceID", "SMBIOSAssetTag0", "SMS_Assigned_Sites0")) > 0

    def parse(self, path: Path) -> ParseResult:
        header, rows = read_csv_rows(path)
        out = Collector(path.name, ASSET_SCHEMA)
        for n, row in rows:
            out.rows_read += 1
            serial = serial_key(lookup(row, *SERIAL))
            if serial is None:
                out.refuse(n, "SerialNumber0", f"missing serial (got '{clean(lookup(row, *SERIAL)) or ''}')", row)
                continue
            try:
                rec = asset_record(
                    self.name, serial,
                    serial=serial,
                    asset_tag=tag_key(lookup(row, *TAG)),
                    **{"class": chassis_class(lookup(row, *CHASSIS))},
                    model=clean(lookup(row, *MODEL)),
                    vendor=clean(lookup(row, *VENDOR)),
                    owner=username(lookup(row, *TOP_USER)),
                    location=clean(lookup(row, *SITE)),
                    lifecycle_status="in_use",
                )
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, row)
                continue
            out.accept(n, rec, row, key=serial, key_column="SerialNumber0")
        return out.result(self.name, self.target_table)


CONNECTOR: Connector = SccmConnector()
