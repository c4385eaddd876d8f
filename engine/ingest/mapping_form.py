"""What the column mapping editor (ui/mapping_editor.py) needs from the engine: the canonical columns of a target
table (required first), a profile built from the form's choices, a tag key suggested for a column, and what a
loaded batch added per currency (exact Decimal sums, never across currencies)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

from engine.ingest.contract.mapping import MAPPABLE, REQUIRED, MappingProfile
from engine.ingest.mapping_profiles import parse_profile

NOT_MAPPED = ""
CONSTANT = "= constant"


def form_columns(table: str) -> list[tuple[str, bool]]:
    """(canonical column, required) for the form, required ones first, in the table's own order otherwise."""
    cols = MAPPABLE[table]
    required = set(REQUIRED[table])
    return [(c, True) for c in cols if c in required] + [(c, False) for c in cols if c not in required]


def suggest_column(target: str, file_columns: list[str]) -> str:
    """The file column spelled like the canonical one (case, spaces and separators aside), else not mapped."""
    def squash(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    return next((c for c in file_columns if squash(c) == squash(target)), NOT_MAPPED)


def suggest_tag_key(column: str) -> str:
    """`tags/Oracle-Tags.CreatedBy` → `Oracle-Tags.CreatedBy`, `resourceTags/user:env` → `env`: the text after the
    last '/' or ':' prefix, as the dedicated connectors key such columns (normalised at ingest either way)."""
    key = column.rsplit("/", 1)[-1]
    if key.startswith("user:"):
        key = key[len("user:"):]
    return key.strip() or column


@dataclass(frozen=True)
class Choice:
    """One canonical column in the form: from a file column, a constant, or not mapped."""

    source: str = NOT_MAPPED       # a file column, CONSTANT or NOT_MAPPED
    constant: str = ""


def draft_profile(name: str, target_table: str, choices: dict[str, Choice], *,
                  billing_period_from: str | None = None, tags: dict[str, str] | None = None,
                  day_first: bool = False, date_formats: list[str] | None = None,
                  source: str = "generic") -> MappingProfile:
    """The form's choices as a validated profile, or one InputError naming what is missing or wrong."""
    columns = {t: c.source for t, c in choices.items() if c.source not in (NOT_MAPPED, CONSTANT)}
    constants = {t: c.constant.strip() for t, c in choices.items() if c.source == CONSTANT and c.constant.strip()}
    data: dict[str, object] = {"name": name.strip(), "target_table": target_table, "columns": columns,
                               "constants": constants, "day_first": day_first,
                               "date_formats": [f.strip() for f in date_formats or [] if f.strip()],
                               "source": source}
    if target_table == "cost_line":
        data["tags"] = {k.strip(): v for k, v in (tags or {}).items() if k.strip()}
        data["billing_period_from"] = billing_period_from or None
    return parse_profile(data)


def cost_totals(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, tuple[int, Decimal, Decimal]]:
    """currency → (lines, billed cost, effective cost) of one loaded cost_line batch, exact."""
    rows = con.execute("SELECT billing_currency, count(*), sum(billed_cost), sum(effective_cost) FROM cost_line "
                       "WHERE batch_id = ? GROUP BY 1 ORDER BY 1", [batch_id]).fetchall()
    return {str(r[0]): (int(r[1]), Decimal(r[2] or 0), Decimal(r[3] or 0)) for r in rows}
