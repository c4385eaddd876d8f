"""The header and first rows of an uploaded file, for the column mapping editor: read with the ingest's own guarded
readers (engine/ingest/contract/safe_read.py: size cap, encoding check, header-only delimiter sniffing, XLSX zip-bomb
check), in a scratch DuckDB, every cell as text. Nothing is loaded; a file the readers refuse is refused here too.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from engine.errors import InputError
from engine.ingest.contract.safe_read import check_xlsx, jsonl_source, open_csv, parquet_source
from engine.ingest.staging import COMPRESSED_MAGIC
from engine.ingest.workdirs import make_workdir
from engine.store.sql import q


@dataclass(frozen=True)
class FileHead:
    columns: list[str]
    rows: pl.DataFrame          # the first rows, every cell as text


def _xlsx_head(path: Path, sheet: str | None, rows: int) -> list[list[object]]:
    """The first rows of a worksheet, after the zip-bomb check; cached values, never formulas."""
    check_xlsx(path)
    import openpyxl  # noqa: PLC0415 - only XLSX heads pay for it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure of the XML reader is the file's, worded plainly
        raise InputError(f"{path.name}: expected an XLSX workbook openpyxl can open ({type(exc).__name__})") from None
    try:
        if sheet and sheet not in wb.sheetnames:
            raise InputError(f"{path.name}: expected a worksheet named '{sheet[:80]}' (the workbook has: "
                             f"{', '.join(wb.sheetnames)[:200]})")
        if not wb.worksheets:
            return []
        ws = wb[sheet] if sheet else wb.worksheets[0]
        return [list(r) for r in ws.iter_rows(max_row=rows, values_only=True)]
    finally:
        wb.close()


def read_head(path: Path, *, n: int = 5, encoding: str | None = None, sheet: str | None = None) -> FileHead:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic.startswith(COMPRESSED_MAGIC):
        raise InputError(f"{path.name}: a compressed file; unpack it to map its columns")
    if magic[:2] == b"PK":
        cells = _xlsx_head(path, sheet, n + 1)
        if not cells:
            raise InputError(f"{path.name}: expected a header row in the worksheet")
        header = [str(h).strip() if h is not None else "" for h in cells[0]]
        names = [h for h in header if h]
        data = {h: [None if i >= len(r) or r[i] is None else str(r[i]) for r in cells[1:]]
                for i, h in enumerate(header) if h}
        return FileHead(names, pl.DataFrame(data, schema={h: pl.String for h in names}))
    con = duckdb.connect(":memory:")
    try:
        if magic == b"PAR1":
            sql, cols = parquet_source(con, path)
        elif magic[:1] in (b"{", b"["):
            sql, cols = jsonl_source(con, path)
        else:
            src = open_csv(con, path, encoding=encoding)
            sql, cols = src.source_sql, src.columns
        names = con.sql(f"SELECT * EXCLUDE (__row) FROM ({sql}) LIMIT 0").columns
        as_text = ", ".join(f"CAST({q(c)} AS VARCHAR) AS {q(c)}" for c in names)   # nested JSON as its text too
        rows = con.sql(f"SELECT {as_text} FROM ({sql}) LIMIT {int(n)}").pl()
    except duckdb.Error as exc:
        raise InputError(f"{path.name}: the first rows cannot be read ({str(exc).splitlines()[0][:200]})") from None
    finally:
        con.close()
    return FileHead(list(cols), rows)


def head_of_upload(data: bytes, file_name: str, *, n: int = 5, encoding: str | None = None,
                   sheet: str | None = None) -> FileHead:
    """`read_head` of an upload, written to a private temp folder that is removed afterwards."""
    d = make_workdir("apportion-head-")
    try:
        path = d / (Path(file_name).name or "upload")
        path.write_bytes(data)
        return read_head(path, n=n, encoding=encoding, sheet=sheet)   # FileRefused is an InputError
    finally:
        shutil.rmtree(d, ignore_errors=True)
