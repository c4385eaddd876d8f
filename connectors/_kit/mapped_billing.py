"""The cost_line half of the generic connector: a saved column mapping (engine/ingest/contract/mapping.py) turned
into a SQL stage plan over the file, built from the same typed reads as the billing connectors (billing_sql), so a
mapped bill gets the same checks: amounts parse exactly or are quarantined, ISO 4217 currencies, YYYY-MM periods,
dates inside the 2000–2100 window, charge period ends not before starts (engine/ingest/contract/rules.py).

Tags are handed to staging as {key, value} lists (like the OCI connector's one-column-per-tag reports): staging
normalises the keys once per distinct tag set (engine/tags/normalise.py) and fills the three tag_* columns from the
normalised keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from connectors._kit.billing_sql import Source, money, number, open_source, string, timestamp
from connectors._kit.source_rows import read_xlsx_rows
from engine.ingest.contract.connector import FileRefused
from engine.ingest.contract.frames import target_columns
from engine.ingest.contract.mapping import DAY_FIRST_FORMATS, TAG_COLUMNS, MappingProfile
from engine.ingest.contract.rules import (
    ISO_FORMATS,
    RULES,
    Check,
    StagePlan,
    lit,
    normalise_enum,
    parse_decimal,
    parse_double,
    parse_timestamp,
    q,
)

SHEET_VIEW = "__generic_sheet"


def _sheet_source(con: duckdb.DuckDBPyConnection, path: Path, sheet: str | None) -> Source:
    """An XLSX worksheet as all-text columns (cached values, never formulas; the zip-bomb check runs first)."""
    header, rows = read_xlsx_rows(path, sheet)
    names = [h for h in header if h]
    data: dict[str, list[Any]] = {"__row": [], **{h: [] for h in names}}
    for n, row in rows:
        data["__row"].append(n)
        for h in names:
            v = row.get(h)
            data[h].append(None if v is None else str(v))
    frame = pl.DataFrame(data, schema={"__row": pl.Int64, **{h: pl.String for h in names}})
    con.register(SHEET_VIEW, frame.to_arrow())
    return Source(f"SELECT * FROM {SHEET_VIEW}", {h: "VARCHAR" for h in names})


def _open(con: duckdb.DuckDBPyConnection, path: Path, profile: MappingProfile, encoding: str | None) -> Source:
    with open(path, "rb") as f:
        magic = f.read(2)
    return _sheet_source(con, path, profile.sheet) if magic == b"PK" else open_source(con, path, encoding)


def formats_of(profile: MappingProfile) -> tuple[str, ...]:
    """ISO 8601 always (it reads one way only), then the profile's own formats in order, then day-first slashes."""
    return (*ISO_FORMATS, *profile.date_formats, *(DAY_FIRST_FORMATS if profile.day_first else ()))


def _expected(formats: tuple[str, ...], profile: MappingProfile) -> str:
    extra = [*profile.date_formats, *(DAY_FIRST_FORMATS[:1] if profile.day_first else ())]
    return "a date/time in ISO 8601" + (f" or {', '.join(extra)}" if extra else "")


def _typed(src: Source, target: str, dtype: str, column: str, checks: list[Check],
           formats: tuple[str, ...], expected: str) -> str:
    """The typed SQL of one mapped source column, by the canonical column's type (checks appended)."""
    t = dtype.upper()
    if t.startswith("DECIMAL"):
        return money(src, column, checks)
    if t.startswith("DOUBLE"):
        return number(src, column, checks)
    if t.startswith(("TIMESTAMP", "DATE")):
        return timestamp(src, column, checks, formats, expected)
    return _text(target, string(src, column))


def _text(target: str, raw: str) -> str:
    trimmed = f"nullif(trim({raw}), '')"
    if target == "billing_currency":
        return f"upper({trimmed})"
    enums = RULES["cost_line"].enums
    return normalise_enum(trimmed, enums[target]) if target in enums else trimmed


def _constant(con: duckdb.DuckDBPyConnection, path: Path, target: str, dtype: str, value: object,
              formats: tuple[str, ...], expected: str) -> str:
    """A constant as typed SQL; one that does not read as its column's type refuses the file (every row would fail)."""
    raw = lit(str(value))
    t = dtype.upper()
    if t.startswith("DECIMAL"):
        expr, what = parse_decimal(raw), "a decimal number"
    elif t.startswith("DOUBLE"):
        expr, what = parse_double(raw), "a number"
    elif t.startswith(("TIMESTAMP", "DATE")):
        expr, what = parse_timestamp(raw, formats), expected
    else:
        return _text(target, raw)
    if con.sql(f"SELECT {expr}").fetchall()[0][0] is None:
        raise FileRefused(path.name, f"{what} as the constant for {target} (the mapping has {str(value)[:60]!r})")
    return expr


def _tag_entries(src: Source, profile: MappingProfile) -> list[str]:
    """[{key, value}] struct literals: the tag_* shorthand first (first spelling wins), then `tags`, then constants."""
    out: list[str] = []
    pairs = [(TAG_COLUMNS[t], c) for t, c in profile.columns.items() if t in TAG_COLUMNS]
    pairs += list(profile.tags.items())
    for key, column in pairs:
        out.append(f"{{'key': {lit(key)}, 'value': nullif(trim(CAST(s.{q(src.col(column) or column)} AS VARCHAR)), "
                   f"'')}}")
    for target, value in profile.constants.items():
        if target in TAG_COLUMNS:
            out.append(f"{{'key': {lit(TAG_COLUMNS[target])}, 'value': nullif(trim({lit(str(value))}), '')}}")
    return out


def source_columns(profile: MappingProfile) -> list[str]:
    """Every file column the profile reads (mapped columns and tag columns), in order, once."""
    return list(dict.fromkeys([*profile.columns.values(), *profile.tags.values()]))


def cost_line_plan(con: duckdb.DuckDBPyConnection, path: Path, profile: MappingProfile,
                   encoding: str | None = None) -> StagePlan:
    src = _open(con, path, profile, encoding)
    missing = [c for c in source_columns(profile) if not src.has(c)]
    if missing:
        have = ", ".join(sorted(src.types)[:20]) + (", …" if len(src.types) > 20 else "")
        raise FileRefused(path.name, f"the column(s) {', '.join(repr(m) for m in missing)} chosen in mapping "
                          f"'{profile.name}' (the file has {have})", row=1, column=missing[0])
    types = dict(target_columns("cost_line"))
    formats = formats_of(profile)
    expected = _expected(formats, profile)
    checks: list[Check] = []
    cols: dict[str, str] = {}
    for target, column in profile.columns.items():
        if target not in TAG_COLUMNS:
            cols[target] = _typed(src, target, types[target], column, checks, formats, expected)
    for target, value in profile.constants.items():
        if target not in TAG_COLUMNS:
            cols[target] = _constant(con, path, target, types[target], value, formats, expected)
    if profile.billing_period_from is not None:
        cols["billing_period"] = f"strftime({cols[profile.billing_period_from]}, '%Y-%m')"
    cols.setdefault("billing_account_id", "CAST(NULL AS VARCHAR)")   # staging scopes re-deliveries by account
    entries = _tag_entries(src, profile)
    tags_key = tags_entries = None
    if entries:
        tags_key = (f"nullif(CAST(to_json(list_filter([{', '.join(entries)}], lambda x: x.value IS NOT NULL)) "
                    f"AS VARCHAR), '[]')")
        tags_entries = "TRY_CAST(TRY_CAST(k AS JSON) AS STRUCT(key VARCHAR, value VARCHAR)[])"
    warnings = [*src.warnings, f"mapped with profile '{profile.name}'"]
    return StagePlan(kind="generic", target_table="cost_line", source_sql=src.sql, columns=cols, checks=checks,
                     warnings=warnings, rejects_sql=src.rejects_sql, tags_key=tags_key, tags_entries=tags_entries,
                     tags_column="tags")
