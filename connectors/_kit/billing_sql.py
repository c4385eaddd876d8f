"""SQL building blocks shared by the billing connectors (FOCUS, AWS CUR, Azure, GCP): typed reads that work the
same on all-text CSV cells and on typed Parquet/JSON columns, and the tag columns every cost line carries."""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.ingest.contract.connector import FileRefused, Sniff
from engine.ingest.contract.rules import (
    TIMESTAMP_FORMATS,
    Check,
    lit,
    parse_check,
    parse_decimal,
    parse_double,
    parse_timestamp,
    q,
    text,
    underflow_check,
)
from engine.ingest.contract.safe_read import jsonl_source, open_csv, parquet_source

NUMERIC_TYPES = ("DECIMAL", "DOUBLE", "FLOAT", "INTEGER", "BIGINT", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT",
                 "UINTEGER", "REAL")


class Source:
    """An opened file: SQL over it (alias `s`, with `__row`) and its columns with their DuckDB types.
    `absent`: header columns that no data row carries (read as NULL); `warnings` about how the file was read, for
    the connector to pass on in its plan."""

    def __init__(self, sql: str, types: dict[str, str], rejects_sql: str | None = None,
                 absent: tuple[str, ...] = (), warnings: tuple[str, ...] = ()) -> None:
        self.sql, self.types, self.rejects_sql = sql, types, rejects_sql
        self.absent, self.warnings = absent, list(warnings)
        self._lower = {c.lower(): c for c in types}

    def alias(self, name: str, column: str) -> None:
        """Let `name` find the file's `column` too (a localised or decorated header spelling of a known column);
        the file's own spellings win."""
        self._lower.setdefault(name.lower(), column)

    def has(self, name: str) -> bool:
        return self.col(name) is not None

    def col(self, name: str) -> str | None:
        """The file's own spelling of a column, matched by name (exact, then case-insensitive)."""
        if name in self.types:
            return name
        return self._lower.get(name.lower())

    def ref(self, name: str) -> str:
        c = self.col(name)
        return f"s.{q(c)}" if c else "NULL"

    def type_of(self, name: str) -> str:
        c = self.col(name)
        return self.types.get(c, "VARCHAR").upper() if c else "VARCHAR"


def open_source(con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None) -> Source:
    """CSV (all text), Parquet or newline-delimited JSON, chosen by content, not by the file name."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head == b"PAR1":
        sql, _ = parquet_source(con, path)
    elif head[:1] in (b"{", b"["):
        sql, _ = jsonl_source(con, path)
    else:
        src = open_csv(con, path, encoding=encoding)
        types = {c: "VARCHAR" for c in src.columns}
        return Source(src.source_sql, types, src.rejects_sql, src.absent, src.warnings)
    rows = con.sql(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
    return Source(sql, {str(r[0]): str(r[1]) for r in rows if r[0] != "__row"})


def require(src: Source, path: Path, *names: str | tuple[str, ...]) -> None:
    """Refuse the whole file when a required column is missing (any one of a tuple of alternatives will do)."""
    for n in names:
        alts = n if isinstance(n, tuple) else (n,)
        found = [c for a in alts if (c := src.col(a)) is not None]
        if not found:
            have = ", ".join(sorted(src.types)[:12])
            raise FileRefused(path.name, f"a column named {' or '.join(repr(a) for a in alts)} "
                              f"(missing; the header has: {have}{', …' if len(src.types) > 12 else ''})",
                              row=1, column=alts[0])
        if all(c in src.absent for c in found):
            raise FileRefused(path.name, f"a value in the required column '{found[0]}' on every row, but the header "
                              f"names {len(src.types)} columns and the data rows have {len(src.types) - 1}: "
                              "that last header column is missing from every row", row=1, column=found[0])


def is_text(src: Source, name: str) -> bool:
    return src.type_of(name).startswith(("VARCHAR", "JSON"))


def money(src: Source, name: str, checks: list[Check]) -> str:
    """DECIMAL(38,10) from text (with a parse check) or from a numeric column (no round trip through text)."""
    ref = src.ref(name)
    if ref == "NULL":
        return "NULL"
    if not is_text(src, name):
        return f"TRY_CAST({ref} AS DECIMAL(38, 10))"
    expr = parse_decimal(text(ref))
    checks.append(parse_check(name, ref, expr, "a decimal number"))
    checks.append(underflow_check(name, ref, expr))
    return expr


def number(src: Source, name: str, checks: list[Check]) -> str:
    ref = src.ref(name)
    if ref == "NULL":
        return "NULL"
    if not is_text(src, name):
        return f"TRY_CAST({ref} AS DOUBLE)"
    expr = parse_double(text(ref))
    checks.append(parse_check(name, ref, expr, "a number"))
    return expr


def timestamp(src: Source, name: str, checks: list[Check], formats: tuple[str, ...] = TIMESTAMP_FORMATS,
              expected: str = "a date/time such as 2024-09-01 00:00:00") -> str:
    """TIMESTAMP from a typed column, or from text read by the connector's own `formats` (a slash date is read by
    them alone, never by DuckDB's cast, and only with a four-digit year — engine.ingest.contract.rules; a year
    outside 2000–2100 is then quarantined by the table's `dated` rule)."""
    ref = src.ref(name)
    if ref == "NULL":
        return "NULL"
    t = src.type_of(name)
    if t.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"CAST(timezone('UTC', {ref}) AS TIMESTAMP)"
    if t.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({ref} AS TIMESTAMP)"
    expr = parse_timestamp(text(ref), formats)
    checks.append(parse_check(name, ref, expr, expected))
    return expr


def string(src: Source, name: str) -> str:
    ref = src.ref(name)
    return "NULL" if ref == "NULL" else text(ref)


def tags_map(src: Source, name: str) -> str:
    """A MAP(VARCHAR, VARCHAR) from JSON text, a MAP or a STRUCT column; keys not yet normalised."""
    ref = src.ref(name)
    if ref == "NULL":
        return "CAST(NULL AS MAP(VARCHAR, VARCHAR))"
    t = src.type_of(name)
    if t.startswith("MAP"):
        return f"CAST({ref} AS MAP(VARCHAR, VARCHAR))"
    if t.startswith("STRUCT"):
        return f"TRY_CAST(to_json({ref}) AS MAP(VARCHAR, VARCHAR))"
    return f"TRY_CAST(TRY_CAST(nullif(nullif(trim({ref}), ''), 'NULL') AS JSON) AS MAP(VARCHAR, VARCHAR))"


def object_entries(text_expr: str) -> str:
    """JSON object text → list of {key, value}; NULL when the text is not a JSON object."""
    return f"map_entries(TRY_CAST(TRY_CAST({text_expr} AS JSON) AS MAP(VARCHAR, VARCHAR)))"


def tags_text(src: Source, name: str) -> str:
    """The raw tags of a row as text (JSON object), whatever the column type: the key of the tag dictionary."""
    ref = src.ref(name)
    if ref == "NULL":
        return "CAST(NULL AS VARCHAR)"
    t = src.type_of(name)
    if t.startswith(("MAP", "STRUCT")):
        return f"nullif(CAST(to_json({ref}) AS VARCHAR), '{{}}')"
    return f"nullif(nullif(trim(CAST({ref} AS VARCHAR)), ''), 'NULL')"


def sniff_has(sniff: Sniff, *names: str) -> bool:
    cols = {c.lower() for c in sniff.columns}
    return all(n.lower() in cols for n in names)


def parquet_columns(path: Path) -> tuple[str, ...]:
    """Column names of a Parquet file from its footer, for `detect` (Sniff only parses CSV headers)."""
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415

        return tuple(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - an unreadable footer is simply not this format
        return ()


def jsonl_keys(head: bytes) -> tuple[str, ...]:
    """Top-level keys of the first JSON line, for `detect`."""
    import json  # noqa: PLC0415

    first = head.split(b"\n", 1)[0]
    try:
        obj = json.loads(first)
    except ValueError:
        return ()
    return tuple(obj) if isinstance(obj, dict) else ()


def columns_of(sniff: Sniff) -> tuple[str, ...]:
    if sniff.head.startswith(b"PAR1"):
        return parquet_columns(sniff.path)
    if sniff.head.lstrip().startswith(b"{"):
        return jsonl_keys(sniff.head.lstrip())
    return sniff.columns


# ---- Python-repr lists (a BigQuery export flattened to CSV by pandas writes `[{'key': 'a', 'value': None}]`) ----

# a single-quoted string holding no quote or backslash, a double-quoted one (Python's repr of text with an
# apostrophe) holding no double quote or backslash: both are valid JSON once the single quotes are swapped
_PY_STR = r"""'[^'"\\]*'|"[^"\\]*\""""
_PY_NUM = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
_PY_ATOM = rf"({_PY_STR}|{_PY_NUM}|None|True|False)"
_PY_PAIR = rf"({_PY_STR})\s*:\s*{_PY_ATOM}"
_PY_DICT = rf"\{{\s*({_PY_PAIR}(\s*,\s*{_PY_PAIR})*)?\s*\}}"
PY_REPR_LIST = rf"\s*\[\s*({_PY_DICT}(\s*,\s*{_PY_DICT})*)?\s*\]\s*"
_PY_TOKEN = rf"{_PY_STR}|{_PY_NUM}|None|True|False|[\[\]{{}}:,]"
_DQ = '"'


def json_or_pyrepr(text_expr: str) -> str:
    """JSON text from a cell holding JSON, or a Python-repr list of flat dicts (strings, numbers, None, True,
    False); NULL for anything else. The repr is converted only when the whole cell matches that grammar with
    strings that hold no quote or backslash, so the conversion is exact: the cell is split into its tokens (a
    string is always taken whole at its opening quote), single-quoted strings are re-quoted, None/True/False
    become null/true/false, and nothing inside a string is ever touched."""
    tokens = f"regexp_extract_all({text_expr}, {lit(_PY_TOKEN)})"
    requote = f"{lit(_DQ)} || t[2:length(t) - 1] || {lit(_DQ)}"
    convert = (f"array_to_string(list_transform({tokens}, lambda t: CASE WHEN left(t, 1) = {lit(chr(39))} "
               f"THEN {requote} WHEN t = 'None' THEN 'null' WHEN t = 'True' THEN 'true' "
               f"WHEN t = 'False' THEN 'false' ELSE t END), '')")
    return (f"coalesce(TRY_CAST({text_expr} AS JSON), CASE WHEN regexp_full_match({text_expr}, "
            f"{lit(PY_REPR_LIST)}) THEN TRY_CAST({convert} AS JSON) END)")
