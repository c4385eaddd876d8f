"""CSV / XLSX / Parquet exports that cannot smuggle a formula into a spreadsheet.

Tags, cost-centre names and resource ids come from bills and inventories other people control; a text cell that
starts with = + - @ or a control character becomes a live formula when finance opens the file (CSV injection,
OWASP). Text cells get a leading apostrophe; numeric, decimal and date columns are never touched, so money stays
a number. XLSX is also written with `strings_to_formulas=False`, so even a missed cell stays text.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

import polars as pl
import xlsxwriter

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(value: str) -> str:
    """Prefix an apostrophe when a spreadsheet would read the text as a formula."""
    return "'" + value if value.startswith(TRIGGERS) else value


def _text_columns(df: pl.DataFrame) -> list[str]:
    return [n for n, t in df.schema.items() if t in (pl.String, pl.Categorical) or isinstance(t, pl.Enum)]


def neutralise_frame(df: pl.DataFrame) -> pl.DataFrame:
    """Neutralise every text column; other dtypes pass through unchanged."""
    cols = _text_columns(df)
    if not cols:
        return df
    pattern = r"^[=+\-@\t\r\n]"
    return df.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(pattern))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in cols
    )


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
