"""Row-level plumbing shared by the inventory, driver and licence connectors.

Inventories are small (thousands to a few hundred thousand rows) but dirty, and every refused row must say why,
so these connectors validate row by row in Python and hand the pipeline one typed frame plus one quarantine frame.
Billing connectors stay columnar; nothing here is on their hot path.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from engine.errors import InputError, NotFound
from engine.ingest.contract.connector import QUARANTINE_SCHEMA, FileRefused, ParseResult
from engine.ingest.contract.keys import clean
from engine.ingest.contract.safe_read import ENCODINGS

ASSET_SCHEMA: dict[str, pl.DataType] = {
    "asset_id": pl.String(),
    "asset_tag": pl.String(),
    "serial": pl.String(),
    "class": pl.String(),
    "model": pl.String(),
    "vendor": pl.String(),
    "owner": pl.String(),
    "cost_center_id": pl.String(),
    "app_id": pl.String(),
    "location": pl.String(),
    "environment": pl.String(),
    "lifecycle_status": pl.String(),
    "purchase_date": pl.Date(),
    "cost": pl.Decimal(18, 2),
    "residual": pl.Decimal(18, 2),
    "useful_life_months": pl.Int32(),
    "depreciation_method": pl.String(),
    "depreciation_convention": pl.String(),
    "source": pl.String(),
    "purchase_order": pl.String(),      # 0005_inventory.sql
    "warranty_expires": pl.Date(),      # 0005_inventory.sql
}

DRIVER_SCHEMA: dict[str, pl.DataType] = {
    "period": pl.String(),
    "driver": pl.String(),
    "target_kind": pl.String(),
    "target_id": pl.String(),
    "quantity": pl.Float64(),
}

ENTITLEMENT_SCHEMA: dict[str, pl.DataType] = {
    "product": pl.String(),
    "vendor": pl.String(),
    "entitlements": pl.Int32(),
    "unit_cost_month": pl.Decimal(18, 4),
}

ASSIGNMENT_SCHEMA: dict[str, pl.DataType] = {
    "product": pl.String(),
    "username": pl.String(),
    "cost_center_id": pl.String(),
    "assigned_on": pl.Date(),
    "last_active": pl.Date(),
}

LIFECYCLE = ("in_use", "in_stock", "retired", "disposed")

MAX_XLSX_ENTRIES = 1_000
MAX_XLSX_UNCOMPRESSED = 300 * 1024 * 1024
MAX_XLSX_RATIO = 100.0


class RowError(InputError):
    """One field of one row is unusable; carries the column so the quarantine row can name it."""

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column, self.reason = column, reason


def username(value: Any) -> str | None:
    """DOMAIN\\user and user@domain both reduce to the lower-case account name used in licence assignments."""
    text = clean(value)
    if text is None:
        return None
    if "\\" in text:
        text = text.rsplit("\\", 1)[1]
    return text.lower() or None


_ENVIRONMENTS = {"prod": "production", "production": "production", "prd": "production", "live": "production",
                 "dev": "development", "development": "development", "test": "test", "testing": "test", "qa": "test",
                 "uat": "test", "stage": "staging", "staging": "staging", "stg": "staging", "preprod": "staging",
                 "dr": "disaster_recovery", "sandbox": "sandbox"}


_DAY_FIRST = ("%d/%m/%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")


def environment(value: Any) -> str | None:
    """One spelling per environment ('Prod', 'PRD', 'Production' → 'production'); unknown values kept lower-case."""
    text = clean(value)
    if text is None:
        return None
    key = re.sub(r"[^a-z]", "", text.lower())
    return _ENVIRONMENTS.get(key, text.lower())


_DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%d %b %Y", "%b %d, %Y", "%Y%m%d",
)


def parse_date(value: Any, column: str, *, day_first: bool = False) -> date | None:
    """Dates as exporters write them (ISO, US, ISO with time or Z). 'NN/NN/YYYY' is read month-first like the
    US-locale exports these tools produce, unless the caller knows the file is day-first (a mapping profile)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = clean(value)
    if text is None:
        return None
    iso = text.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(iso).date()
    except ValueError:
        pass
    for fmt in (_DAY_FIRST + _DATE_FORMATS) if day_first else _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise RowError(column, f"bad date '{text}' in {column} (expected YYYY-MM-DD or MM/DD/YYYY)")


def parse_money(value: Any, column: str, *, allow_negative: bool = False) -> Decimal | None:
    """Money text with currency symbols and thousands separators; negative or absurd prices are refused."""
    if value is None:
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        amount = Decimal(str(value))
    else:
        text = clean(value)
        if text is None:
            return None
        raw = re.sub(r"[\s$€£¥]|USD|EUR|GBP", "", text)
        if raw.startswith("(") and raw.endswith(")"):
            raw = "-" + raw[1:-1]
        raw = raw.replace(",", "")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise RowError(column, f"'{text}' in {column} is not an amount") from None
    if not amount.is_finite():
        raise RowError(column, f"'{value}' in {column} is not an amount")
    if amount < 0 and not allow_negative:
        raise RowError(column, f"negative price {amount} in {column}")
    if abs(amount) >= Decimal("1e15"):
        raise RowError(column, f"absurd amount {amount} in {column}")
    return amount.quantize(Decimal("0.01"))


def parse_number(value: Any, column: str, *, allow_negative: bool = False) -> float | None:
    """A plain quantity; refuses text, NaN and negatives (drivers are never negative)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RowError(column, f"'{value}' in {column} is not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = clean(value)
        if text is None:
            return None
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            raise RowError(column, f"'{text}' in {column} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RowError(column, f"'{value}' in {column} is not a finite number")
    if number < 0 and not allow_negative:
        raise RowError(column, f"negative value {number} in {column}")
    return number


def parse_period(value: Any, column: str) -> str:
    """YYYY-MM from 'YYYY-MM', 'YYYYMM', a date or a datetime."""
    text = clean(value)
    if text is None:
        raise RowError(column, f"missing period in {column}")
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        return text
    if re.fullmatch(r"\d{4}(0[1-9]|1[0-2])", text):
        return f"{text[:4]}-{text[4:]}"
    if re.fullmatch(r"\d{4}-?\d{2}", text):
        raise RowError(column, f"bad period '{text}' in {column} (expected YYYY-MM with month 01-12)")
    d = parse_date(value, column)
    assert d is not None
    return f"{d.year:04d}-{d.month:02d}"


def epoch_period(seconds: int) -> str:
    t = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{t.year:04d}-{t.month:02d}"


def lookup(row: Mapping[str, Any], *names: str) -> Any:
    """The first present, non-empty value among several spellings of a column (matched case-insensitively)."""
    lowered = {k.lower().strip(): v for k, v in row.items() if isinstance(k, str)}
    for name in names:
        v = lowered.get(name.lower())
        if clean(v) is not None:
            return v
    return None


def has_columns(columns: Iterable[str], *required: str) -> bool:
    lowered = {c.lower().strip() for c in columns}
    return all(r.lower() in lowered for r in required)


def count_columns(columns: Iterable[str], candidates: Iterable[str]) -> int:
    lowered = {c.lower().strip() for c in columns}
    return sum(1 for c in candidates if c.lower() in lowered)


@dataclass
class Collector:
    """Accepted records and quarantine rows of one file, with duplicate natural keys caught on the way."""

    file: str
    schema: dict[str, pl.DataType]
    good: list[dict[str, Any]] = field(default_factory=list)
    bad: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    _keys: dict[str, int] = field(default_factory=dict)

    def refuse(self, row_number: int, column: str | None, reason: str, raw: Any) -> None:
        self.bad.append({"row_number": row_number, "column_name": column, "reason": reason, "raw": _raw(raw)})

    def first_seen(self, key: str) -> int | None:
        """Row number that already used this natural key, if any."""
        return self._keys.get(key)

    def accept(self, row_number: int, record: dict[str, Any], raw: Any, *, key: str | None = None,
               key_column: str | None = None) -> bool:
        if key is not None:
            first = self._keys.get(key)
            if first is not None:
                self.refuse(row_number, key_column, f"duplicate {key_column or 'key'} '{key}' (first at row {first})",
                            raw)
                return False
            self._keys[key] = row_number
        record["__row"] = row_number
        self.good.append(record)
        return True

    def result(self, kind: str, target_table: str) -> ParseResult:
        """`__row` (the source row number) rides along so later SQL checks in engine/ingest/staging.py can name it."""
        schema = {**self.schema, "__row": pl.Int64()}
        frame = pl.DataFrame(self.good, schema=schema) if self.good else pl.DataFrame(schema=schema)
        quarantine = pl.DataFrame(self.bad, schema=QUARANTINE_SCHEMA) if self.bad else pl.DataFrame(
            schema=QUARANTINE_SCHEMA)
        return ParseResult(kind=kind, target_table=target_table, frame=frame, quarantine=quarantine,
                           rows_read=self.rows_read, warnings=list(self.warnings))


def _raw(raw: Any) -> str:
    try:
        return json.dumps(raw, default=str, ensure_ascii=False)[:4000]
    except (TypeError, ValueError):
        return str(raw)[:4000]


def asset_record(source: str, key: str, **fields: Any) -> dict[str, Any]:
    """One asset row; asset_id is 'source:key' so the same laptop seen by Jamf and by the CMDB never collides on
    the primary key, and reconciliation matches on serial/tag instead."""
    rec: dict[str, Any] = dict.fromkeys(ASSET_SCHEMA)
    rec.update(fields)
    rec["asset_id"] = f"{source}:{key}"
    rec["source"] = source
    unknown = set(rec) - set(ASSET_SCHEMA)
    if unknown:
        raise NotFound(f"not asset columns: {sorted(unknown)}")
    return rec


# The encoding a user chose for this parse (pipeline option `encoding`); UTF-8 unless set by `FramePlan.plan`.
CHOSEN_ENCODING: ContextVar[str | None] = ContextVar("CHOSEN_ENCODING", default=None)


def text_encoding(path: Path) -> str:
    """The codec to read `path` with: the chosen one (validated against safe_read.ENCODINGS) or UTF-8(-BOM)."""
    chosen = CHOSEN_ENCODING.get()
    if chosen is None:
        return "utf-8-sig"
    codec = ENCODINGS.get(chosen.lower())
    if codec is None:
        raise FileRefused(path.name, f"an encoding among {', '.join(sorted(set(ENCODINGS.values())))} "
                                     f"(got '{chosen}')")
    return "utf-8-sig" if codec == "utf-8" else codec


def read_text(path: Path) -> str:
    """UTF-8 with or without BOM; anything else is refused with the byte offset unless the user chose an encoding
    (SSMS and Excel on Windows still write cp1252/UTF-16)."""
    data = path.read_bytes()
    codec = text_encoding(path)
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = "; choose its encoding (latin-1, utf-16)" if codec == "utf-8-sig" else ""
        raise FileRefused(path.name, f"{codec} text (byte {exc.start} does not decode{hint})", row=line) from None


def read_json(path: Path) -> Any:
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise FileRefused(path.name, f"valid JSON ({exc.msg} at column {exc.colno})", row=exc.lineno) from None
    except RecursionError:
        raise FileRefused(path.name, "JSON nested at most a few hundred levels deep") from None


def read_csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header and (1-based data row number, row) pairs; a row with extra cells keeps them under '_extra'."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FileRefused(path.name, "a header row", row=1) from None
    except csv.Error as exc:
        raise FileRefused(path.name, f"CSV text ({exc})", row=1) from None
    if not any(header):
        raise FileRefused(path.name, "a header row with column names", row=1)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        n = 0
        try:
            for cells in reader:
                n += 1
                if not cells or not any(c.strip() for c in cells):
                    continue
                row = dict(zip(header, cells, strict=False))
                if len(cells) > len(header):
                    row["_extra"] = ",".join(cells[len(header):])
                yield n, row
        except csv.Error as exc:
            raise FileRefused(path.name, f"CSV text ({exc})", row=n + 2) from None

    return header, rows()


def check_xlsx(path: Path) -> None:
    """Zip-bomb guard run before openpyxl touches the file: entry count, declared size, compression ratio."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRefused(path.name, f"an XLSX workbook (not a readable zip: {exc})") from None
    if len(infos) > MAX_XLSX_ENTRIES:
        raise FileRefused(path.name, f"an XLSX workbook with at most {MAX_XLSX_ENTRIES} parts (has {len(infos)})")
    total = sum(i.file_size for i in infos)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise FileRefused(path.name, f"an XLSX workbook that unpacks to at most {MAX_XLSX_UNCOMPRESSED // 2**20} MB "
                                     f"(declares {total // 2**20} MB)")
    for i in infos:
        if i.file_size > 1_000_000 and i.file_size / max(i.compress_size, 1) > MAX_XLSX_RATIO:
            raise FileRefused(path.name, f"an XLSX workbook without extreme compression ({i.filename} expands "
                                         f"{i.file_size / max(i.compress_size, 1):.0f}x; limit {MAX_XLSX_RATIO:.0f}x)")
    if not any(i.filename == "[Content_Types].xml" for i in infos):
        raise FileRefused(path.name, "an XLSX workbook ([Content_Types].xml missing)")


def read_xlsx_rows(path: Path, sheet: str | None = None) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """A worksheet (the first by default) as header + rows, after the zip-bomb check; cached values, never
    formulas."""
    check_xlsx(path)
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise FileRefused(path.name, f"an XLSX workbook openpyxl can read ({type(exc).__name__})") from None
    if sheet is not None and sheet not in wb.sheetnames:
        names = ", ".join(wb.sheetnames)
        wb.close()
        raise FileRefused(path.name, f"a worksheet named '{sheet}' (the workbook has {names})")
    ws = wb[sheet] if sheet is not None else wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        header = [str(h).strip() if h is not None else "" for h in next(it)]
    except StopIteration:
        wb.close()
        raise FileRefused(path.name, "a header row in the first worksheet", row=1) from None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            for n, cells in enumerate(it, start=1):
                if not any(c is not None and str(c).strip() for c in cells):
                    continue
                yield n, dict(zip(header, cells, strict=False))
        finally:
            wb.close()

    return header, rows()


def xlsx_header(path: Path) -> list[str]:
    """Header of the first worksheet for detection; [] when the file is not a safe, readable workbook."""
    try:
        header, rows = read_xlsx_rows(path)
    except FileRefused:
        return []
    close = getattr(rows, "close", None)
    if close is not None:
        close()
    return header


def read_table(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """CSV or XLSX by content (a zip is a workbook), for connectors that accept both."""
    with open(path, "rb") as f:
        magic = f.read(2)
    return read_xlsx_rows(path) if magic == b"PK" else read_csv_rows(path)


if TYPE_CHECKING:
    import duckdb

    from engine.ingest.contract.rules import StagePlan


class FramePlan:
    """Mixin giving a frame connector the pipeline's `plan(con, path, **options)` entry, so a user-chosen
    `encoding` reaches the readers above; without it the pipeline would call `parse(path)` and ignore options."""

    def parse(self, path: Path) -> ParseResult:  # pragma: no cover - provided by the connector
        raise NotImplementedError

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None,
             **_: Any) -> StagePlan:
        from engine.ingest.contract.frames import plan_from_frame

        token = CHOSEN_ENCODING.set(encoding)
        try:
            return plan_from_frame(con, self.parse(path))
        finally:
            CHOSEN_ENCODING.reset(token)
