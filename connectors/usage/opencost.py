"""OpenCost `/allocation` JSON → driver_value (cpu_core_hours, ram_gib_hours, pv_gib_hours). Never cost lines.

The response is `{"code": 200, "data": [ {"<name>": {allocation}, ...}, ... ]}`: one set per `step`, each keyed by
the aggregate value (a namespace, `ns/controller`, or a label value). An allocation carries `window` {start, end},
`cpuCoreHours`, `ramByteHours`, `pvByteHours` and OpenCost's own cost estimates.

Why drivers only: OpenCost prices usage at list (or its own cloud-cost guess). The bill already holds the cluster's
nodes and volumes, so loading OpenCost's costs would count the same money twice. What OpenCost knows better than the
bill is *who used the cluster*, so its usage becomes the driver that splits the node/volume cost pool.

- Periods: a set whose window crosses a month boundary is split across the months by elapsed time.
- `__idle__` is capacity nobody used: it is not a consumer, so it is left out (the allocation rule decides what
  happens to idle); `__unallocated__` (workloads without the aggregation label) loads as target 'UNALLOCATED'.
- Targets are applications (a namespace is the usual unit of ownership); when the aggregate is a cost-centre label
  (the name equals the value of a `cost_center`-like label on the allocation) the target kind is cost_center.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors._kit.source_rows import DRIVER_SCHEMA, Collector, FramePlan, RowError, parse_number, read_json
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff

GIB = float(2**30)
DRIVERS = (("cpuCoreHours", "cpu_core_hours", 1.0), ("ramByteHours", "ram_gib_hours", GIB),
           ("pvByteHours", "pv_gib_hours", GIB))
_CC_LABEL = re.compile(r"^(label_)?(cost[_-]?cent(er|re)|costcent(er|re)|cc)$", re.IGNORECASE)


def _ts(value: Any, column: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise RowError(column, f"missing {column}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RowError(column, f"bad timestamp '{value}' in {column}") from None
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def month_shares(start: datetime, end: datetime) -> list[tuple[str, float]]:
    """(YYYY-MM, fraction of the window) for every month the window touches."""
    if end <= start:
        return [(f"{start.year:04d}-{start.month:02d}", 1.0)]
    total = (end - start).total_seconds()
    out: list[tuple[str, float]] = []
    cur = start
    while cur < end:
        nxt = datetime(cur.year + (cur.month == 12), cur.month % 12 + 1, 1, tzinfo=UTC)
        stop = min(nxt, end)
        out.append((f"{cur.year:04d}-{cur.month:02d}", (stop - cur).total_seconds() / total))
        cur = stop
    return out


def _target(name: str, alloc: dict[str, Any]) -> tuple[str, str]:
    if name == "__unallocated__":
        return "application", "UNALLOCATED"
    labels = (alloc.get("properties") or {}).get("labels") or {}
    if isinstance(labels, dict) and any(_CC_LABEL.match(str(k)) and str(v) == name for k, v in labels.items()):
        return "cost_center", name
    return "application", name


@dataclass(frozen=True)
class OpenCostConnector(FramePlan):
    name: str = "opencost"
    target_table: str = "driver_value"
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        head = sniff.head.decode("utf-8-sig", errors="replace")
        return '"data"' in head and ("cpuCoreHours" in head or "ramByteHours" in head)

    def parse(self, path: Path) -> ParseResult:
        doc = read_json(path)
        data = doc.get("data") if isinstance(doc, dict) else None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise FileRefused(path.name, "an OpenCost /allocation response ({\"code\": 200, \"data\": [{...}]})")
        out = Collector(path.name, DRIVER_SCHEMA)
        totals: dict[tuple[str, str, str, str], float] = defaultdict(float)
        first_row: dict[tuple[str, str, str, str], int] = {}
        idle = 0
        n = 0
        for step in data:
            if not isinstance(step, dict):
                continue
            for name, alloc in step.items():
                n += 1
                out.rows_read += 1
                if name == "__idle__":
                    idle += 1
                    continue
                if not isinstance(alloc, dict):
                    out.refuse(n, name, "allocation is not a JSON object", alloc)
                    continue
                try:
                    window = alloc.get("window") or {}
                    start = _ts(window.get("start") or alloc.get("start"), "window.start")
                    end = _ts(window.get("end") or alloc.get("end"), "window.end")
                    qty = {drv: (parse_number(alloc.get(src), src) or 0.0) / div for src, drv, div in DRIVERS}
                except RowError as exc:
                    out.refuse(n, exc.column, f"{name}: {exc.reason}", alloc)
                    continue
                kind, target = _target(str(name), alloc)
                for period, share in month_shares(start, end):
                    for drv, q in qty.items():
                        if q > 0:
                            key = (period, drv, kind, target)
                            totals[key] += q * share
                            first_row.setdefault(key, n)
        for key, q in sorted(totals.items()):
            period, drv, kind, target = key
            out.accept(first_row[key], {"period": period, "driver": drv, "target_kind": kind, "target_id": target,
                                        "quantity": q}, None)
        if idle:
            out.warnings.append(f"{idle} __idle__ allocations left out: idle capacity is not a consumer")
        out.warnings.append("OpenCost cost fields are not loaded (they would double-count the bill); usage only")
        return out.result(self.name, self.target_table)


CONNECTOR: Connector = OpenCostConnector()
