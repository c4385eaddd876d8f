"""Reading untrusted files defensively: size caps, encodings only when chosen, line-length caps, zip-bomb checks.

Everything here runs inside the ingest child process (ingest/sandbox.py), so a file that slips past these checks can
still only exhaust the child's memory/time budget, never the app. Formula-looking text (`=cmd|…`) is only data: it is
read as text and stays text; exports neutralise it on the way out.
"""

from __future__ import annotations

import codecs
import contextvars
import csv
import gzip
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.ingest.contract.connector import FileRefused
from engine.ingest.contract.rules import lit, q

MAX_FILE_BYTES = 8 * 1024**3        # a single billing export above 8 GB should arrive as Parquet or split files
MAX_LINE_BYTES = 4 * 1024**2        # a CSV line above 4 MB is not a billing line
ENCODINGS: dict[str, str] = {"utf-8": "utf-8", "utf8": "utf-8", "latin-1": "latin-1", "latin1": "latin-1",
                             "iso-8859-1": "latin-1", "utf-16": "utf-16", "utf16": "utf-16"}

REJECTS_TABLE = "__rejects"
# Storing rejects costs ~40% of a CSV read, so the first attempt reads strictly; only a file with a line the reader
# cannot split is read again with rejects on (engine/ingest/staging.py), so its good lines still load.
CSV_REJECTS: contextvars.ContextVar[bool] = contextvars.ContextVar("csv_rejects", default=False)
# The parent's direct load (ingest/pipeline.py) may read a CSV again without numbering its rows when no row is to be
# excluded by number: row_number() OVER () keeps the scan in file order, which costs the parallel read.
CSV_ROW_NUMBERS: contextvars.ContextVar[bool] = contextvars.ContextVar("csv_row_numbers", default=True)
XLSX_MAX_ENTRIES = 2_000
XLSX_MAX_UNCOMPRESSED = 512 * 1024**2
XLSX_MAX_RATIO = 200
MAX_GUNZIP_BYTES = MAX_FILE_BYTES   # a gzipped export may expand to what a plain one may be, no more
GZIP_MAGIC = b"\x1f\x8b"
# Characters that never belong in a billing or inventory value: C0 controls other than TAB/LF/CR (NUL included),
# DEL and the byte-order mark U+FEFF (inside a value: Excel concatenating BOM'd files). A file whose bytes hold none
# of them (the usual case: one C-speed pass over the bytes, `has_hostile_text`) pays no per-cell check at all.
HOSTILE_TEXT_RE = "[\\x{0}-\\x{8}\\x{B}\\x{C}\\x{E}-\\x{1F}\\x{7F}\\x{FEFF}]"
_HOSTILE_BYTES = bytes([*range(0, 9), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_KEEP_HOSTILE = bytes(b for b in range(256) if b not in _HOSTILE_BYTES)
_JSON_ESCAPED = re.compile(rb"\\u(00[01][0-9a-fA-F]|007[fF]|[fF][eE][fF][fF])")
# one C pass keeps only the bytes that could start trouble: a hostile byte, a BOM's first byte, a backslash
_KEEP_SUSPECT = bytes(b for b in range(256) if b not in _HOSTILE_BYTES and b not in (0xEF, 0x5C))
# A pre-scan found hostile characters: every text column of the plan gets the check (engine/ingest/staging.py);
# the parent's direct load sets it from the child's verdict so both compile the same checks.
TEXT_HYGIENE: contextvars.ContextVar[bool] = contextvars.ContextVar("text_hygiene", default=False)


@dataclass(frozen=True)
class CsvSource:
    """A CSV opened for reading: the SQL to scan it (with `__row`), its header columns, and where rejects go.
    `absent`: header columns no data row carries (read as NULL, see `open_csv`); `warnings` say so."""

    source_sql: str
    columns: tuple[str, ...]
    rejects_sql: str | None
    absent: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def check_size(path: Path, max_bytes: int = MAX_FILE_BYTES) -> int:
    size = path.stat().st_size
    if size == 0:
        raise FileRefused(path.name, "a non-empty file (this one has 0 bytes)")
    if size > max_bytes:
        raise FileRefused(path.name, f"at most {max_bytes / 1024**2:.0f} MB (this one has {size / 1024**2:.0f} MB)")
    return size


def check_text_encoding(path: Path, encoding: str | None) -> str:
    """UTF-8 (BOM or not) by default; another encoding only when the user chose it. Checks the first 1 MB."""
    chosen = ENCODINGS.get((encoding or "utf-8").lower())
    if chosen is None:
        raise FileRefused(path.name, f"an encoding among {', '.join(sorted(set(ENCODINGS.values())))} "
                          f"(got '{encoding}')")
    with open(path, "rb") as f:
        head = f.read(1024 * 1024)
    if chosen == "utf-8":
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise FileRefused(path.name, "UTF-8 text, but the file is UTF-16; choose encoding utf-16 to read it",
                              row=1)
        if b"\x00" in head[:4096]:
            # NULs this early mean binary or UTF-16 without a BOM; a NUL later is a damaged value (quarantined)
            at = head.index(b"\x00")
            line = head[:at].count(b"\n") + 1
            raise FileRefused(path.name, "a text file, but it contains NUL bytes (binary or UTF-16 without BOM; "
                              f"the first at byte {at}, line {line})", row=max(line - 1, 1))
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:   # a multi-byte character cut by the 1 MB window is fine
                line = head[: exc.start].count(b"\n") + 1
                raise FileRefused(
                    path.name,
                    f"UTF-8 text, but byte 0x{head[exc.start]:02x} at offset {exc.start} is not UTF-8; "
                    "choose its encoding (e.g. latin-1) to read it",
                    row=max(line - 1, 1),
                ) from None
    return chosen


def open_csv(con: duckdb.DuckDBPyConnection, path: Path, *, encoding: str | None = None,
             max_line_bytes: int = MAX_LINE_BYTES, rejects: str = REJECTS_TABLE) -> CsvSource:
    """Every cell as text (types are decided by the connector, with a reason when a cell does not parse); rows that
    cannot be split into the header's columns go to a rejects table instead of failing the file."""
    check_size(path)
    enc = check_text_encoding(path, encoding)
    con.execute(f"DROP TABLE IF EXISTS {rejects}")
    con.execute(f"DROP TABLE IF EXISTS {rejects}_scan")
    delim, names = _header(path)
    absent: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    if len(names) > 2 and _rows_short_by_one(path, delim, len(names)):
        # Decided (docs/ingestion.md): a header with one more column than every data row (koku's test CUR, OpenCost's
        # Azure template, a trailing delimiter on the header line) is read with the rows' own width; the last header
        # column is absent (NULL) on every row — a connector that requires it refuses the file — and a row that does
        # carry it is quarantined by the reader (TOO MANY COLUMNS), never shifted.
        absent = (names[-1],)
        warnings = (f"the header names {len(names)} columns but the data rows have {len(names) - 1}: the last "
                    f"header column '{names[-1][:80]}' is read as empty on every row (a row with all "
                    f"{len(names)} cells would be quarantined)",)
        names = names[:-1]
    columns = "{" + ", ".join(f"{lit(n)}: 'VARCHAR'" for n in names) + "}"
    shown = "\\t" if delim == "\t" else delim
    opts = (f"header = true, auto_detect = false, delim = {lit(shown)}, quote = '\"', escape = '\"', "
            f"columns = {columns}, encoding = {lit(enc)}, max_line_size = {int(max_line_bytes)}, "
            f"strict_mode = true, null_padding = false, compression = 'none'")
    if CSV_REJECTS.get():
        opts += f", store_rejects = true, rejects_table = {lit(rejects)}, rejects_scan = {lit(rejects + '_scan')}"
    reader = f"read_csv({lit(str(path))}, {opts})"
    cols = tuple(names)
    if len(cols) < 2:
        raise FileRefused(path.name, "a delimited file with a header row of several columns "
                          f"(found {len(cols)} column: {cols[0][:60] if cols else ''!r})", row=1)
    numbering = "row_number() OVER ()" if CSV_ROW_NUMBERS.get() else "CAST(NULL AS BIGINT)"
    missing = "".join(f", CAST(NULL AS VARCHAR) AS {q(a)}" for a in absent)
    source_sql = f"SELECT {numbering} AS __row, *{missing} FROM {reader}"
    rejects_sql = None
    if CSV_REJECTS.get():
        # one reason per line; a line over the size cap says so first (the reader then also reports the cells it
        # could not find on it, which would misname the damage)
        too_long = lit(f"LINE SIZE OVER MAXIMUM: expected CSV lines under {max_line_bytes // 1024**2} MB "
                       "(this line is longer; it was not read)")
        rejects_sql = (f"SELECT line - 1 AS row_number, CASE WHEN error_type = 'LINE SIZE OVER MAXIMUM' THEN NULL "
                       f"ELSE column_name END AS column_name, CASE WHEN error_type = 'LINE SIZE OVER MAXIMUM' "
                       f"THEN {too_long} ELSE error_type || ': ' || left(error_message, 300) END AS reason, "
                       f"left(csv_line, 4000) AS raw FROM {rejects} QUALIFY row_number() OVER (PARTITION BY line "
                       f"ORDER BY error_type = 'LINE SIZE OVER MAXIMUM' DESC, column_idx NULLS LAST) = 1")
    return CsvSource(source_sql=source_sql, columns=cols + absent, rejects_sql=rejects_sql, absent=absent,
                     warnings=warnings)


SHORT_ROWS_SAMPLE = 256 * 1024


def _rows_short_by_one(path: Path, delim: str, width: int) -> bool:
    """True when every data row in the first 256 KB (at least one) splits into exactly `width - 1` cells. The read
    that follows holds every later row to that width, so the sample decides the dialect, never a row's values."""
    with open(path, "rb") as f:
        head = f.read(SHORT_ROWS_SAMPLE)
    truncated = len(head) == SHORT_ROWS_SAMPLE
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"', doublequote=True)
    seen = 0
    pending: list[str] | None = None   # the last record may be cut by the sample window: judged only if followed
    try:
        next(reader, None)   # the header
        for record in reader:
            if not record or not any(c.strip() for c in record):
                continue
            if pending is not None:
                if len(pending) != width - 1:
                    return False   # the usual case stops at the first data row
                seen += 1
            pending = record
    except csv.Error:
        return False
    if pending is not None and not truncated:
        if len(pending) != width - 1:
            return False
        seen += 1
    return seen > 0


def line_endings(path: Path, chunk: int = 8 * 1024 * 1024) -> tuple[int, int, int]:
    """Counts of CRLF, lone LF and lone CR line breaks in the whole file (quoted cells included)."""
    crlf = lf = cr = 0
    carry = b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            block = carry + block
            carry = b""
            if block.endswith(b"\r"):
                carry, block = b"\r", block[:-1]
            n_crlf = block.count(b"\r\n")
            crlf += n_crlf
            lf += block.count(b"\n") - n_crlf
            cr += block.count(b"\r") - n_crlf
    if carry:
        cr += 1
    return crlf, lf, cr


def uniform_line_endings(path: Path, out_dir: Path) -> tuple[Path, str] | None:
    """A text file whose lines end in more than one way (koku's Azure MCA sample: CRLF, then a last line in LF; old
    Mac CRs among CRLFs), rewritten with LF only under the same name in `out_dir`; None when its line endings are
    already one kind. DuckDB's strict CSV reader fixes the line ending from the first line and stops at the first
    other one; its lenient mode would read the file but also silently drop surplus cells, so the file is
    normalised instead (CRLF and lone CR → LF, inside quoted cells too). Returns the copy and a note saying so."""
    crlf, lf, cr = line_endings(path)
    if sum(1 for n in (crlf, lf, cr) if n) < 2:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    with open(path, "rb") as src, open(out, "wb") as dst:
        carry = b""
        while block := src.read(8 * 1024 * 1024):
            block = carry + block
            carry = b""
            if block.endswith(b"\r"):
                carry, block = b"\r", block[:-1]
            dst.write(block.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
        dst.write(carry.replace(b"\r", b"\n"))
    kinds = ", ".join(f"{n} {k}" for n, k in ((crlf, "CRLF"), (lf, "LF"), (cr, "CR")) if n)
    return out, f"line endings were mixed ({kinds}): read with every line ending as LF"


def describe_csv_error(message: str) -> str:
    """DuckDB's CSV reader errors in the words of this project: what was expected of the file, the line when the
    reader names one. The reader's own message (its option dump, 'Possible fixes', strict_mode hints) is not shown."""
    text = message.strip()
    line = re.search(r"[Ll]ine:?\s*(\d+)", text)
    where = f" (the reader stopped at line {line.group(1)})" if line else ""
    if "state machine" in text or "not RFC 4180" in text or "strict_mode" in text:
        return ("CSV text the reader can split: every line ending the same way, quotes closed and doubled inside "
                f"quoted cells{where}")
    if "Maximum line size" in text or "max_line_size" in text:
        return f"CSV lines under {MAX_LINE_BYTES // 1024**2} MB{where}"
    if "Invalid unicode" in text or "UTF8" in text or "utf-8" in text.lower():
        return f"UTF-8 text{where}; choose its encoding (e.g. latin-1) to read it"
    first = first_line(text)
    first = re.sub(r"^[A-Za-z ]*Error:\s*", "", first)
    return f"CSV text the reader can split{where} ({first[:200]})"


def transcode_to_utf8(path: Path, encoding: str, out_dir: Path) -> Path:
    """A file in a chosen encoding, rewritten as UTF-8 (streamed) under the same name, so detection and every
    reader see UTF-8. Undecodable bytes refuse the file with the offset."""
    enc = ENCODINGS.get(encoding.lower())
    if enc is None:
        raise FileRefused(path.name, f"an encoding among {', '.join(sorted(set(ENCODINGS.values())))} "
                          f"(got '{encoding}')")
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name
    try:
        with open(path, encoding=enc, newline="") as src, open(out, "w", encoding="utf-8", newline="") as dst:
            first = True
            while chunk := src.read(4 * 1024 * 1024):
                dst.write(chunk.lstrip("\ufeff") if first else chunk)
                first = False
    except UnicodeError as exc:
        raise FileRefused(path.name, f"text in {enc} ({exc})") from None
    return out


def _header(path: Path) -> tuple[str, list[str]]:
    """Delimiter and column names from the header line alone. DuckDB's sniffer samples data lines too, so one
    broken line could make it read the whole file as one column; with the header fixed, a broken line is only a
    rejected line."""
    with open(path, "rb") as f:
        raw = f.readline(MAX_LINE_BYTES + 1)
    if len(raw) > MAX_LINE_BYTES:
        raise FileRefused(path.name, f"a header line under {MAX_LINE_BYTES // 1024**2} MB", row=1)
    first = raw.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    counts = {d: first.count(d) for d in (",", ";", "\t", "|")}
    delim, n = max(counts.items(), key=lambda kv: kv[1])
    if n == 0:
        raise FileRefused(path.name, "a delimited file with a header row of several columns "
                          f"(found one column: {first[:60]!r})", row=1)
    try:
        names = next(csv.reader(io.StringIO(first), delimiter=delim))
    except (csv.Error, StopIteration):
        raise FileRefused(path.name, "a header row that can be split into columns", row=1) from None
    seen: dict[str, int] = {}
    out: list[str] = []
    named: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        base = name.strip() or f"column{i}"
        if name.strip():
            # case-insensitive (connectors match names so), except tag columns (`resourceTags/user:Env` and
            # `…:env` are two AWS tags): those must only not repeat exactly
            named.setdefault(base if ":" in base else base.lower(), []).append(i + 1)
        k = seen.get(base, 0)
        seen[base] = k + 1
        out.append(base if k == 0 else f"{base}_{k}")
    repeated = {n: at for n, at in named.items() if len(at) > 1}
    if repeated:
        # Decided (docs/ingestion.md): which copy holds the amount is a guess, so no copy is read
        first_name, at = next(iter(repeated.items()))
        spelled = names[at[0] - 1].strip()
        listed = "; ".join(f"'{names[a[0] - 1].strip()[:60]}' at columns {', '.join(map(str, a))}"
                           for a in list(repeated.values())[:5])
        raise FileRefused(path.name, f"each column named once in the header (repeated: {listed})", row=1,
                          column=spelled[:80] or first_name)
    return delim, out


def first_line(message: str) -> str:
    return message.strip().splitlines()[0][:300] if message.strip() else message


def has_hostile_text(path: Path, chunk: int = 8 * 1024 * 1024) -> bool:
    """Whether a text file holds a control character, NUL, DEL or a byte-order mark anywhere but its first bytes
    (the BOM that starts a file is the encoding's, stripped by the reader), or a JSON escape of one."""
    carry = b""
    first = True
    with open(path, "rb") as f:
        while block := f.read(chunk):
            data = carry + block
            if first and data.startswith(codecs.BOM_UTF8):
                data = data[3:]
            first = False
            suspect = data.translate(None, _KEEP_SUSPECT)
            # most blocks keep nothing (measured ~1.7 GB/s, against ~0.55 GB/s for the three exact checks on every
            # block); only a block with a suspect byte gets them
            if suspect and (suspect.translate(None, _KEEP_HOSTILE) or b"\xef\xbb\xbf" in data
                            or _JSON_ESCAPED.search(data)):
                return True
            carry = data[-5:]
    return False


def gunzip_limited(path: Path, out_dir: Path, max_bytes: int | None = None) -> Path:
    """A gzip file expanded (streamed) under its own name into `out_dir`; refused as soon as the output
    passes `max_bytes`, so a gzip bomb costs at most that much disk and no memory."""
    max_bytes = MAX_GUNZIP_BYTES if max_bytes is None else max_bytes
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / path.name   # the same name, so every later message names the file as it was given
    written = 0
    try:
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            while block := src.read(4 * 1024 * 1024):
                written += len(block)
                if written > max_bytes:
                    raise FileRefused(path.name, f"a gzip file that expands to at most {max_bytes / 1024**2:.0f} MB "
                                      "(this one expands further; it was stopped there)")
                dst.write(block)
    except (OSError, EOFError, zlib.error) as exc:
        out.unlink(missing_ok=True)
        raise FileRefused(path.name, f"a complete gzip file ({first_line(str(exc)) or type(exc).__name__})") from None
    except FileRefused:
        out.unlink(missing_ok=True)
        raise
    if written == 0:
        raise FileRefused(path.name, "a gzip file with content (it expands to 0 bytes)")
    return out


def check_xlsx(path: Path) -> None:
    """Zip-bomb checks before any XML is parsed: entry count, declared size, compression ratio; then no XML part
    may declare a DTD (entity expansion, external entities: an XLSX never needs one)."""
    check_size(path, 256 * 1024**2)
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except zipfile.BadZipFile:
        raise FileRefused(path.name, "an XLSX workbook (a zip archive), but it is not a valid zip file") from None
    if len(infos) > XLSX_MAX_ENTRIES:
        raise FileRefused(path.name, f"at most {XLSX_MAX_ENTRIES} entries in the workbook archive "
                          f"(found {len(infos)})")
    total = sum(i.file_size for i in infos)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise FileRefused(path.name, f"at most {XLSX_MAX_UNCOMPRESSED // 1024**2} MB uncompressed "
                          f"(the archive declares {total / 1024**2:.0f} MB)")
    for i in infos:
        if i.compress_size and i.file_size / i.compress_size > XLSX_MAX_RATIO:
            raise FileRefused(path.name, f"a compression ratio below {XLSX_MAX_RATIO}:1 "
                              f"(entry '{i.filename[:80]}' expands {i.file_size / i.compress_size:.0f}:1)")
    if not any(i.filename.startswith("xl/") for i in infos):
        raise FileRefused(path.name, "an XLSX workbook (no xl/ part in the archive)")
    _refuse_dtd(path, infos)


def _refuse_dtd(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Stream each XML part (bounded by the checks above) looking for `<!DOCTYPE` / `<!ENTITY`."""
    try:
        with zipfile.ZipFile(path) as z:
            for i in infos:
                if not i.filename.lower().endswith((".xml", ".rels", ".vml")):
                    continue
                tail = b""
                with z.open(i) as part:
                    while block := part.read(1024 * 1024):
                        window = (tail + block).upper()
                        if b"<!DOCTYPE" in window or b"<!ENTITY" in window:
                            raise FileRefused(path.name, "an XLSX workbook without a document type declaration "
                                              f"(part '{i.filename[:80]}' declares XML entities: refused unread)")
                        tail = block[-16:]
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise FileRefused(path.name, f"an XLSX workbook whose parts can be unpacked ({first_line(str(exc))})") from None


def read_xlsx_rows(path: Path, sheet: str | None = None, max_rows: int = 1_000_000) -> list[list[object]]:
    """Cell values of one sheet (first by default) after `check_xlsx`; formulas come back as their text."""
    check_xlsx(path)
    import openpyxl  # noqa: PLC0415 - only XLSX readers pay for it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - any failure of the XML reader is the file's, worded plainly
        raise FileRefused(path.name, f"an XLSX workbook openpyxl can open ({type(exc).__name__}: "
                          f"{first_line(str(exc))[:200]})") from None
    try:
        if not wb.worksheets:
            raise FileRefused(path.name, "an XLSX workbook with at least one worksheet (it has none)")
        if sheet and sheet not in wb.sheetnames:
            raise FileRefused(path.name, f"a worksheet named '{sheet[:80]}' (the workbook has: "
                              f"{', '.join(wb.sheetnames)[:200]})")
        ws = wb[sheet] if sheet else wb.worksheets[0]
        rows: list[list[object]] = []
        n = 0
        try:
            for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
                if n > max_rows:
                    raise FileRefused(path.name, f"at most {max_rows} rows per sheet", row=n)
                rows.append(list(row))
        except FileRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged sheet: say where reading stopped, not the traceback
            raise FileRefused(path.name, f"a worksheet that can be read to its end (reading stopped after row {n}: "
                              f"{type(exc).__name__}: {first_line(str(exc))[:200]})", row=n + 1) from None
        return rows
    finally:
        wb.close()


def parquet_source(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, tuple[str, ...]]:
    """Parquet keeps its own types; `__row` is the file row number (1-based)."""
    check_size(path)
    reader = f"read_parquet({lit(str(path))}, file_row_number = true)"
    try:
        cols = tuple(str(r[0]) for r in con.sql(f"DESCRIBE SELECT * FROM {reader}").fetchall())
    except duckdb.Error as exc:
        raise FileRefused(path.name, f"a readable Parquet file ({first_line(str(exc))})") from None
    cols = tuple(c for c in cols if c != "file_row_number")
    return f"SELECT file_row_number + 1 AS __row, * EXCLUDE (file_row_number) FROM {reader}", cols


def jsonl_source(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, tuple[str, ...]]:
    """Newline-delimited JSON (BigQuery export); nested fields keep their structure."""
    check_size(path)
    check_text_encoding(path, None)
    reader = (f"read_json({lit(str(path))}, format = 'newline_delimited', maximum_object_size = {MAX_LINE_BYTES}, "
              f"sample_size = 20480, compression = 'none')")   # never by the name: gzip is expanded before this
    try:
        cols = tuple(str(r[0]) for r in con.sql(f"DESCRIBE SELECT * FROM {reader}").fetchall())
    except duckdb.Error as exc:
        raise FileRefused(path.name, f"newline-delimited JSON ({first_line(str(exc))})", row=1) from None
    return f"SELECT row_number() OVER () AS __row, * FROM {reader}", cols


def quoted(cols: tuple[str, ...]) -> dict[str, str]:
    """Header name → quoted identifier, for connectors building expressions."""
    return {c: f"s.{q(c)}" for c in cols}
