"""SQL building blocks shared by the billing connectors (FOCUS, AWS CUR, Azure, GCP): typed reads that work the
same on all-text CSV cells and on typed Parquet/JSON columns, and the tag columns every cost line carries."""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.ingest.contract.connector import FileRefused, Sniff
from engine.ingest.contract.rules import Check, parse_check, parse_decimal, parse_double, parse_timestamp, q, text
from engine.ingest.contract.safe_read import jsonl_source, open_csv, parquet_source

NUMERIC_TYPES = ("DECIMAL", "DOUBLE", "FLOAT", "INTEGER", "BIGINT", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT",
                 "UINTEGER", "REAL")


class Source:
    """An opened file: SQL over it (alias `s`, with `__row`) and its columns with their DuckDB types."""

    def __init__(self, sql: str, types: dict[str, str], rejects_sql: str | None = None) -> None:
        self.sql, self.types, self.rejects_sql = sql, types, rejects_sql
        self._lower = {c.lower(): c for c in types}

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
        return Source(src.source_sql, types, src.rejects_sql)
    rows = con.sql(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
    return Source(sql, {str(r[0]): str(r[1]) for r in rows if r[0] != "__row"})


def require(src: Source, path: Path, *names: str | tuple[str, ...]) -> None:
    """Refuse the whole file when a required column is missing (any one of a tuple of alternatives will do)."""
    for n in names:
        alts = n if isinstance(n, tuple) else (n,)
        if not any(src.has(a) for a in alts):
            have = ", ".join(sorted(src.types)[:12])
            raise FileRefused(path.name, f"a column named {' or '.join(repr(a) for a in alts)} "
                              f"(the header has: {have}{', …' if len(src.types) > 12 else ''})",
                              row=1, column=alts[0])


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


def timestamp(src: Source, name: str, checks: list[Check]) -> str:
    ref = src.ref(name)
    if ref == "NULL":
        return "NULL"
    t = src.type_of(name)
    if t.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"CAST(timezone('UTC', {ref}) AS TIMESTAMP)"
    if t.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({ref} AS TIMESTAMP)"
    expr = parse_timestamp(text(ref))
    checks.append(parse_check(name, ref, expr, "a date/time such as 2024-09-01 00:00:00"))
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
