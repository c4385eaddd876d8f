"""HR headcount and finance revenue per cost centre (CSV or XLSX) → driver_value.

HR and finance hand these over as spreadsheets, in one of two layouts:
- wide: `Period, Cost Center, Headcount, FTE, Revenue` (any subset of the measures), one row per cost centre/month;
- long: `Period, Cost Center, Driver, Value`, one row per measure.
A `Business Unit` column in place of the cost centre targets business units. Periods may be `2026-10`, `202610`,
or a date (the month it falls in). XLSX goes through the zip-bomb check (entry count, declared size, compression
ratio) in connectors/_kit/source_rows.py before openpyxl opens it; formulas load as their cached values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors._kit.source_rows import (
    DRIVER_SCHEMA,
    Collector,
    FramePlan,
    RowError,
    count_columns,
    lookup,
    parse_number,
    parse_period,
    read_table,
    xlsx_header,
)
from engine.ingest.contract.connector import Connector, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean

PERIOD = ("Period", "Month", "Fiscal Period", "Date", "period", "YearMonth")
COST_CENTER = ("Cost Center", "Cost Centre", "CostCenter", "CostCentre", "cost_center", "cost_center_id", "CC",
               "Cost Center Code", "Cost Centre Code")
BUSINESS_UNIT = ("Business Unit", "BusinessUnit", "business_unit", "BU")
MEASURES: dict[str, tuple[str, ...]] = {
    "headcount": ("Headcount", "Head Count", "HC", "Employees", "headcount"),
    "fte": ("FTE", "FTEs", "fte"),
    "revenue": ("Revenue", "Net Revenue", "Sales", "revenue"),
}
LONG_DRIVER = ("Driver", "Metric", "Measure", "driver")
LONG_VALUE = ("Value", "Quantity", "Amount", "value")
_DRIVER_ALIASES = {a.lower(): d for d, names in MEASURES.items() for a in names}


def _is_ours(cols: list[str] | tuple[str, ...]) -> bool:
    if not cols or count_columns(cols, PERIOD) == 0 or count_columns(cols, COST_CENTER + BUSINESS_UNIT) == 0:
        return False
    measures = sum(count_columns(cols, names) for names in MEASURES.values())
    return measures > 0 or (count_columns(cols, LONG_DRIVER) > 0 and count_columns(cols, LONG_VALUE) > 0)


@dataclass(frozen=True)
class HrDriversConnector(FramePlan):
    name: str = "hr_drivers"
    target_table: str = "driver_value"
    priority: int = 30
    loads_directly: bool = False
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        if sniff.columns:
            return _is_ours(sniff.columns)
        if sniff.head.startswith(b"PK") and sniff.path.suffix.lower() in (".xlsx", ".xlsm"):
            return _is_ours(xlsx_header(sniff.path))
        return False

    def parse(self, path: Path) -> ParseResult:
        header, rows = read_table(path)
        out = Collector(path.name, DRIVER_SCHEMA)
        kind = "business_unit" if count_columns(header, BUSINESS_UNIT) and not count_columns(
            header, COST_CENTER) else "cost_center"
        target_cols = BUSINESS_UNIT if kind == "business_unit" else COST_CENTER
        long = count_columns(header, LONG_DRIVER) > 0 and count_columns(header, LONG_VALUE) > 0
        for n, row in rows:
            out.rows_read += 1
            try:
                period = parse_period(lookup(row, *PERIOD), "Period")
                target = clean(lookup(row, *target_cols))
                if target is None:
                    raise RowError(target_cols[0], f"missing {target_cols[0].lower()}")
                values = self._long(row) if long else self._wide(row)
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, row)
                continue
            dup = next((f for d, _ in values if (f := out.first_seen(f"{period}|{d}|{target}")) is not None), None)
            if dup is not None:
                out.refuse(n, target_cols[0], f"duplicate {period} / {target} (first at row {dup})", row)
                continue
            for driver, qty in values:
                out.accept(n, {"period": period, "driver": driver, "target_kind": kind, "target_id": target,
                               "quantity": qty}, row, key=f"{period}|{driver}|{target}", key_column=target_cols[0])
        return out.result(self.name, self.target_table)

    @staticmethod
    def _wide(row: dict[str, Any]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for driver, names in MEASURES.items():
            col = next((k for k in row if isinstance(k, str) and k.strip().lower() in {x.lower() for x in names}),
                       None)
            if col is None:
                continue
            qty = parse_number(row[col], col)
            if qty is not None:
                out.append((driver, qty))
        if not out:
            raise RowError(None, "no headcount, FTE or revenue value in the row")
        return out

    @staticmethod
    def _long(row: dict[str, Any]) -> list[tuple[str, float]]:
        raw = clean(lookup(row, *LONG_DRIVER))
        if raw is None:
            raise RowError("Driver", "missing driver name")
        driver = _DRIVER_ALIASES.get(raw.lower(), raw.lower().replace(" ", "_"))
        qty = parse_number(lookup(row, *LONG_VALUE), "Value")
        if qty is None:
            raise RowError("Value", f"missing value for {driver}")
        return [(driver, qty)]


CONNECTOR: Connector = HrDriversConnector()
