"""Generic CSV / XLSX / Parquet through a named column mapping (engine/ingest/mapping_profiles.py) → any table.

Never auto-detected (`detect` is always False and its priority is the lowest): a spreadsheet with a 'Cost' column
could be anything, and a wrong guess would load wrong numbers silently. The user picks it with a mapping — in the UI,
or `--source generic --mapping NAME` — and the pipeline passes the profile as `options["mapping"]` to `plan`.

Values are converted by the target column's meaning (dates in the usual export spellings, money with separators and
currency symbols, periods as YYYY-MM); anything that does not convert is quarantined with the column named. Assets get
`asset_id = '<profile source>:<asset_id | asset_tag | serial>'`, like the dedicated inventory connectors.
Cost lines are planned in SQL by connectors/_kit/mapped_billing.py, with the billing connectors' typed reads and
checks (derived billing period, any number of tags).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from connectors._kit.mapped_billing import cost_line_plan
from connectors._kit.source_rows import (
    ASSET_SCHEMA,
    ASSIGNMENT_SCHEMA,
    CHOSEN_ENCODING,
    DRIVER_SCHEMA,
    ENTITLEMENT_SCHEMA,
    Collector,
    RowError,
    environment,
    parse_date,
    parse_money,
    parse_number,
    parse_period,
    read_csv_rows,
    read_xlsx_rows,
    username,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.frames import run_plan_to_frame
from engine.ingest.contract.keys import clean, serial_key, tag_key
from engine.ingest.contract.mapping import MAPPABLE, MappingProfile

if TYPE_CHECKING:
    import duckdb

    from engine.ingest.contract.rules import StagePlan

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "asset": ASSET_SCHEMA, "driver_value": DRIVER_SCHEMA, "licence_entitlement": ENTITLEMENT_SCHEMA,
    "licence_assignment": ASSIGNMENT_SCHEMA,
}
_DATES = {"purchase_date", "warranty_expires", "assigned_on", "last_active"}
_MONEY = {"cost", "residual", "unit_cost_month"}


def _explicit_date(value: Any, formats: tuple[str, ...]) -> date | None:
    """The profile's own formats, in order, before the usual spellings."""
    text = clean(value) if isinstance(value, str) else None
    for fmt in formats if text else ():
        try:
            return datetime.strptime(str(text), fmt).date()
        except ValueError:
            continue
    return None


def _convert(table: str, column: str, value: Any, label: str, day_first: bool = False,
             formats: tuple[str, ...] = ()) -> Any:
    if table == "cost_line":
        return None if value is None else str(value).strip() or None
    if column in _DATES:
        return _explicit_date(value, formats) or parse_date(value, label, day_first=day_first)
    if column in _MONEY:
        return parse_money(value, label)
    if column == "period":
        return parse_period(value, label)
    if column == "quantity":
        return parse_number(value, label)
    if column in ("useful_life_months", "entitlements"):
        n = parse_number(value, label)
        if n is not None and n != int(n):
            raise RowError(label, f"expected a whole number in {label}, got {n:g}")
        return None if n is None else int(n)
    if column == "serial":
        return serial_key(value)
    if column == "asset_tag":
        return tag_key(value)
    if column in ("owner", "username"):
        return username(value)
    if column == "environment":
        return environment(value)
    return clean(value)


def _rows(path: Path, sheet: str | None) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PAR1":
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:  # pyarrow/polars raise many types for a broken file
            raise FileRefused(path.name, f"a readable Parquet file ({type(exc).__name__})") from None
        return list(frame.columns), ((i, r) for i, r in enumerate(frame.iter_rows(named=True), start=1))
    if magic[:2] == b"PK":
        return read_xlsx_rows(path, sheet)
    return read_csv_rows(path)


@dataclass(frozen=True)
class GenericConnector:
    name: str = "generic"
    target_table: str = "asset"      # per mapping
    priority: int = -1000
    loads_directly: bool = False
    inventory_role: InventoryRole | None = "record"

    def detect(self, sniff: Sniff) -> bool:
        return False

    def parse(self, path: Path, mapping: MappingProfile | dict[str, Any] | None = None) -> ParseResult:
        if mapping is None:
            raise FileRefused(path.name, "a column mapping: choose or create a mapping profile for this file")
        profile = mapping if isinstance(mapping, MappingProfile) else MappingProfile.model_validate(mapping)
        if profile.target_table == "cost_line":   # the SQL plan, staged like the pipeline stages it
            return run_plan_to_frame(self, path, mapping=profile.model_dump(mode="json"))
        header, rows = _rows(path, profile.sheet)
        lowered = {h.lower().strip(): h for h in header if h}
        missing = [src for src in profile.columns.values() if src.lower().strip() not in lowered]
        if missing:
            raise FileRefused(path.name, f"the column(s) {', '.join(repr(m) for m in missing)} chosen in mapping "
                              f"'{profile.name}' (the file has {', '.join(h for h in header if h)})", row=1)
        table = profile.target_table
        schema = SCHEMAS.get(table) or {c: pl.String() for c in MAPPABLE[table]}
        out = Collector(path.name, schema)
        for n, row in rows:
            out.rows_read += 1
            try:
                rec: dict[str, Any] = dict.fromkeys(schema)
                for target, value in profile.constants.items():
                    rec[target] = _convert(table, target, value, target)
                for target, src in profile.columns.items():
                    rec[target] = _convert(table, target, row.get(lowered[src.lower().strip()]), src,
                                           profile.day_first, tuple(profile.date_formats))
                key = self._key(table, rec, profile)
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, row)
                continue
            out.accept(n, rec, row, key=key, key_column=profile.columns.get("asset_id")
                       or profile.columns.get("asset_tag") or profile.columns.get("serial") or "key")
        out.warnings.append(f"mapped with profile '{profile.name}'")
        return out.result(self.name, table)

    @staticmethod
    def _key(table: str, rec: dict[str, Any], profile: MappingProfile) -> str | None:
        if table == "asset":
            natural = rec.get("asset_id") or rec.get("asset_tag") or rec.get("serial")
            if natural is None:
                raise RowError(profile.columns.get("asset_tag") or profile.columns.get("serial"),
                               "missing asset id, asset tag and serial")
            rec["asset_id"] = f"{profile.source}:{natural}"
            rec["source"] = profile.source
            return str(natural)
        if table == "driver_value":
            return f"{rec['period']}|{rec['driver']}|{rec['target_kind']}|{rec['target_id']}"
        if table == "licence_entitlement":
            return str(rec.get("product"))
        if table == "licence_assignment":
            return f"{rec.get('product')}|{rec.get('username')}"
        return None

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, mapping: dict[str, Any] | None = None,
             encoding: str | None = None, **_: Any) -> StagePlan:
        """The pipeline's entry: parse with the profile, then the same SQL validation as every frame connector."""
        from engine.ingest.contract.frames import plan_from_frame

        if mapping is None:
            raise FileRefused(path.name, "a column mapping: choose or create a mapping profile for this file")
        profile = MappingProfile.model_validate(mapping)
        if profile.target_table == "cost_line":
            return cost_line_plan(con, path, profile, encoding)
        token = CHOSEN_ENCODING.set(encoding)
        try:
            return plan_from_frame(con, self.parse(path, profile))
        finally:
            CHOSEN_ENCODING.reset(token)


CONNECTOR: Connector = GenericConnector()
