"""ServiceNow `alm_hardware` (asset records, the financial side) and `cmdb_ci*` (configuration items) → asset.

Accepted shapes, as a ServiceNow admin produces them:
- List view → Export → CSV: header is the field names (`asset_tag`, `serial_number`, `install_status`,
  `assigned_to`, `cost_center`, dot-walked `assigned_to.user_name`, ...), values are display values.
- `?JSONv2` export (`{"records": [...]}`: raw values, references as sys_ids) and Table API responses
  (`{"result": [...]}`) with `sysparm_display_value=false|true|all`: a reference is then a sys_id string,
  a display string, or `{"display_value", "value", "link"}`. Display values win when both are there.

`install_status` is a choice: numbers in raw exports, labels in display exports; both map to the lifecycle enum.
When references arrive only as sys_ids (a Table API response without `sysparm_display_value`: `{"link", "value"}`)
the rows still load (sys_ids are stable keys) but a warning says owners and cost centres will not match other
sources until the export includes display values. Model, vendor and location take a name wherever the record carries
one (a display value, or a dot-walked `model_id.name`, `manufacturer.name`, `location.name` field); a reference
known only by its sys_id keeps the id, and a second warning names those fields and how many rows carry them.
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
    environment,
    parse_date,
    parse_money,
    read_csv_rows,
    read_json,
    username,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean, resource_key, serial_key, tag_key

_FIELDS = ("sys_id", "serial_number", "asset_tag", "install_status", "assigned_to", "model_category",
           "sys_class_name", "display_name", "cost_center", "substatus", "managed_by", "owned_by", "model_id",
           "operational_status", "po_number", "warranty_expiration", "purchase_date", "u_cost_center")
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")

# alm_asset.install_status and cmdb_ci.install_status share most numbers; labels cover both tables.
_STATUS_NUM = {"1": "in_use", "2": "in_stock", "3": "in_use", "4": "in_stock", "5": "in_use", "6": "in_stock",
               "7": "retired", "8": "retired", "9": "in_stock", "10": "retired", "11": "in_stock", "100": "retired"}
_STATUS_LABEL = {"in use": "in_use", "installed": "in_use", "in maintenance": "in_use", "pending repair": "in_use",
                 "on order": "in_stock", "in stock": "in_stock", "pending install": "in_stock",
                 "in transit": "in_stock", "build": "in_stock", "retired": "retired", "missing": "retired",
                 "absent": "retired", "consumed": "retired", "stolen": "disposed", "disposed": "disposed"}
_DISPOSED_SUBSTATUS = {"disposed", "sold", "donated", "vendor credit", "stolen", "lost"}


def _value(v: Any) -> str | None:
    """Display value of a reference/choice when present, else its raw value (sys_id or number)."""
    if isinstance(v, dict):
        return clean(v.get("display_value")) or clean(v.get("value"))
    return clean(v)


def _named(row: dict[str, Any], *names: str) -> tuple[str | None, str | None]:
    """The first name among `names` (a display value, or plain text that is not a sys_id); else the first reference
    known only by its id. The second item names the field when that id came from a Table API reference without a
    display value (`{"link", "value"}`), so the caller can say the id was kept."""
    fallback: tuple[str | None, str | None] = (None, None)
    for n in names:
        v = row.get(n)
        if isinstance(v, dict):
            shown = clean(v.get("display_value"))
            if shown is not None:
                return shown, None
            raw, field = clean(v.get("value")), n
        else:
            raw, field = clean(v), None
            if raw is not None and not _SYS_ID.match(raw):
                return raw, None
        if raw is not None and fallback[0] is None:
            fallback = (raw, field)
    return fallback


def _raw_value(v: Any) -> str | None:
    return clean(v.get("value")) if isinstance(v, dict) else clean(v)


def _get(row: dict[str, Any], *names: str) -> str | None:
    for n in names:
        if n in row:
            v = _value(row[n])
            if v is not None:
                return v
    return None


def asset_class(sys_class: str | None, category: str | None, form_factor: str | None, model: str | None = None,
                cloud_id: bool = False) -> str:
    """sys_class_name/model category/form factor decide; a model name settles laptop vs desktop for the generic
    'Computer' category, and a cloud object_id makes a VM instance a cloud instance."""
    if cloud_id:
        return "cloud_instance"
    text = " ".join(x.lower() for x in (form_factor, category, sys_class) if x)
    if "computer" in text and model and any(w in model.lower() for w in (
            "macbook", "latitude", "elitebook", "thinkpad", "probook", "surface laptop", "xps 1", "zbook")):
        return "laptop"
    for words, cls in (
        (("laptop", "notebook", "portable"), "laptop"),
        (("ec2", "vm_instance", "cloud", "azure_vm", "gcp"), "cloud_instance"),
        (("server", "vmware_instance", "mainframe", "hyper_v"), "server"),
        (("storage", "san", "nas", "disk_array"), "storage"),
        (("network", "switch", "router", "firewall", "ip_", "load_balancer", "wireless"), "network"),
        (("desktop", "workstation", "computer", "pc", "tablet"), "desktop"),
    ):
        if any(w in text for w in words):
            return cls
    return "other"


def lifecycle(status: str | None, substatus: str | None) -> str | None:
    if status is None:
        return None
    s = status.strip().lower()
    out = _STATUS_NUM.get(s) or _STATUS_LABEL.get(s)
    if out == "retired" and substatus and substatus.strip().lower() in _DISPOSED_SUBSTATUS:
        return "disposed"
    return out


@dataclass(frozen=True)
class ServiceNowConnector(FramePlan):
    name: str = "servicenow"
    target_table: str = "asset"
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = "record"

    def detect(self, sniff: Sniff) -> bool:
        if sniff.columns:
            return count_columns(sniff.columns, ("serial_number", "asset_tag")) >= 1 and count_columns(
                sniff.columns, _FIELDS) >= 3
        head = sniff.head.decode("utf-8-sig", errors="replace")
        return ('"result"' in head or '"records"' in head) and sum(
            f'"{f}"' in head for f in _FIELDS) >= 3

    def parse(self, path: Path) -> ParseResult:
        with open(path, "rb") as f:
            first = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()[:1]
        if first in ("{", "["):
            doc = read_json(path)
            records = doc.get("result", doc.get("records")) if isinstance(doc, dict) else doc
            if not isinstance(records, list):
                raise FileRefused(path.name, "a ServiceNow export ({\"result\": [...]} or {\"records\": [...]})")
            rows: list[tuple[int, Any]] = list(enumerate(records, start=1))
        else:
            _, it = read_csv_rows(path)
            rows = list(it)
        out = Collector(path.name, ASSET_SCHEMA)
        sys_id_refs = 0
        id_only: dict[str, int] = {}
        for n, row in rows:
            out.rows_read += 1
            if not isinstance(row, dict):
                out.refuse(n, None, "record is not a JSON object", row)
                continue
            sys_class = _raw_value(row.get("sys_class_name"))
            object_id = resource_key(_get(row, "object_id"))
            cloud_id = bool(object_id and re.match(r"^(i-[0-9a-f]+|arn:|/subscriptions/)", object_id))
            serial = serial_key(_get(row, "serial_number"))
            if serial is None and cloud_id:
                serial = object_id
            tag = tag_key(_get(row, "asset_tag"))
            sys_id = _get(row, "sys_id")
            if serial is None and tag is None:
                out.refuse(n, "serial_number", "missing serial and asset tag (nothing to reconcile on)", row)
                continue
            owner = _get(row, "assigned_to.user_name", "owned_by.user_name", "assigned_to", "owned_by")
            cc = _get(row, "cost_center.code", "cost_center.account_number", "cost_center", "u_cost_center",
                      "department.cost_center", "department")
            if any(v and _SYS_ID.match(v) for v in (owner, cc)):
                sys_id_refs += 1
            key = sys_id if sys_id else (tag or serial)
            assert key is not None
            model, m_ref = _named(row, "model", "model_id.display_name", "model_id.name", "model_id")
            vendor, v_ref = _named(row, "vendor.name", "manufacturer.name", "vendor", "manufacturer")
            location, l_ref = _named(row, "location.name", "location.full_name", "location")
            for ref in (m_ref, v_ref, l_ref):
                if ref is not None:
                    id_only[ref] = id_only.get(ref, 0) + 1
            try:
                rec = asset_record(
                    self.name, key,
                    serial=serial,
                    asset_tag=tag,
                    **{"class": asset_class(sys_class, _get(row, "model_category"), _get(row, "form_factor"),
                                           None if m_ref else model, cloud_id)},
                    model=model,
                    vendor=vendor,
                    owner=username(owner.split("@")[0] if owner and "@" in owner else owner),
                    cost_center_id=cc,
                    app_id=_get(row, "u_application", "application"),
                    location=location,
                    environment=environment(_get(row, "environment", "used_for")),
                    lifecycle_status=lifecycle(_get(row, "install_status"), _get(row, "substatus")),
                    purchase_date=parse_date(_get(row, "purchase_date"), "purchase_date"),
                    cost=parse_money(_get(row, "cost"), "cost"),
                    residual=parse_money(_get(row, "salvage_value", "residual"), "salvage_value"),
                    depreciation_method=_depreciation(_get(row, "depreciation")),
                    purchase_order=_get(row, "po_number"),
                    warranty_expires=parse_date(_get(row, "warranty_expiration"), "warranty_expiration"),
                )
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, row)
                continue
            out.accept(n, rec, row, key=key, key_column="sys_id" if sys_id else "asset_tag")
        if sys_id_refs:
            out.warnings.append(f"{sys_id_refs} rows carry owner/cost centre as sys_ids; export with display values "
                                "(sysparm_display_value=true) so they match the other inventories")
        if id_only:
            fields = ", ".join(f"{f} on {n} rows" for f, n in sorted(id_only.items()))
            out.warnings.append(f"references without display values kept as sys_ids in model/vendor/location "
                                f"({fields}); export with sysparm_display_value=all to carry their names")
        return out.result(self.name, self.target_table)


def _depreciation(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.lower()
    if "straight" in v:
        return "straight_line"
    if "double" in v or "ddb" in v:
        return "ddb"
    if "sum" in v:
        return "syd"
    if "declining" in v:
        return "declining_balance"
    return None


CONNECTOR: Connector = ServiceNowConnector()
