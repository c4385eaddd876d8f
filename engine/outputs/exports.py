"""CSV / XLSX / Parquet exports that cannot smuggle a formula into a spreadsheet.

Tags, cost-centre names and resource ids come from bills and inventories other people control; a text cell that
a spreadsheet reads as a formula runs when finance opens the file (CSV injection, OWASP). Following OWASP, a text
cell gets a leading apostrophe when its first character that is not white space (spaces, tabs, NBSP and every other
Unicode space; Excel and LibreOffice skip them) is one of = + - @, or a tab, CR or LF, or when the cell starts with
`|` (DDE in older Excel). Numeric, decimal and date columns are never touched, so money stays a number, negative
amounts included. Column headers are text too and get the same treatment. XLSX is also written with
`strings_to_formulas=False`, so even a missed cell stays text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import xlsxwriter

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Leading blanks a spreadsheet skips before it decides a cell is a formula: ASCII space and the Unicode spaces
# (NBSP, the en/em spaces, narrow NBSP, ideographic space …, i.e. Python's str.isspace minus what is a trigger).
_BLANKS = "".join(chr(c) for c in range(0x110000) if chr(c).isspace() and chr(c) not in "\t\r\n")
_BLANK_CLASS = "".join(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}" for c in _BLANKS)
# Python and polars (Rust regex) read this one pattern alike: optional blanks, then a trigger; or a leading pipe.
PATTERN = rf"^(?:[{_BLANK_CLASS}]*[=+\-@\t\r\n]|\|)"
_FORMULA = re.compile(PATTERN)


def neutralise(value: str) -> str:
    """Prefix an apostrophe when a spreadsheet would read the text as a formula (or a DDE call)."""
    return "'" + value if _FORMULA.match(value) else value


def _text_columns(df: pl.DataFrame) -> list[str]:
    return [n for n, t in df.schema.items() if t in (pl.String, pl.Categorical) or isinstance(t, pl.Enum)]


def neutralise_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Neutralise every text column; other dtypes pass through unchanged."""
    renamed = {c: neutralise(c) for c in df.columns if neutralise(c) != c}
    cols = _text_columns(df)
    if cols:
        df = df.with_columns(
            pl.when(pl.col(c).cast(pl.String).str.contains(PATTERN))
            .then(pl.lit("'") + pl.col(c).cast(pl.String))
            .otherwise(pl.col(c).cast(pl.String))
            .alias(c)
            for c in cols
        )
    return df.rename(renamed) if renamed else df


def to_csv_bytes(df: pl.DataFrame, *, safe: bool = True) -> bytes:
    """UTF-8 CSV with a header; decimals written exactly as stored (no float rounding)."""
    out = neutralise_frame(df) if safe else df
    return out.write_csv().encode("utf-8")


def to_parquet_bytes(df: pl.DataFrame, *, safe: bool = True) -> bytes:
    """Parquet keeps types; text is neutralised too because Parquet files get converted to CSV downstream."""
    buf = io.BytesIO()
    (neutralise_frame(df) if safe else df).write_parquet(buf)
    return buf.getvalue()


def to_xlsx_bytes(sheets: Mapping[str, pl.DataFrame], *, safe: bool = True,
                  titles: Mapping[str, list[str]] | None = None) -> bytes:
    """One worksheet per frame; optional title lines above the table (statement headers).

    Money (Decimal) is written as a number with a two-decimal format; nothing is written as a formula.
    """
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    for name, frame in sheets.items():
        df = neutralise_frame(frame) if safe else frame
        ws = wb.add_worksheet(name[:31])
        row = 0
        for line in (titles or {}).get(name, []):
            ws.write_string(row, 0, neutralise(line) if safe else line, bold if row == 0 else None)
            row += 1
        if row:
            row += 1
        for col, header in enumerate(df.columns):
            ws.write_string(row, col, header, bold)
            ws.set_column(col, col, max(12, min(40, len(header) + 2)))
        for values in df.iter_rows():
            row += 1
            for col, v in enumerate(values):
                if v is None:
                    ws.write_blank(row, col, None)
                elif isinstance(v, bool):
                    ws.write_boolean(row, col, v)
                elif isinstance(v, Decimal):
                    ws.write_number(row, col, float(v), money)
                elif isinstance(v, int | float):
                    ws.write_number(row, col, v)
                elif isinstance(v, datetime | date):
                    ws.write_datetime(row, col, v, day)
                else:
                    ws.write_string(row, col, str(v))
    wb.close()
    return buf.getvalue()
