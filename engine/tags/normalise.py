"""Tag hygiene: one canonical key per meaning, a configurable tag standard, and coverage weighted by cost.

Providers and teams spell the same tag many ways (`CostCenter`, `cost-center`, `Cost department`, ` org`). Rules
and reports must see one key, so keys are normalised at ingest, in SQL (`normalise_tags_sql`) for the bulk path and
in Python (`canonical_key`) for everything else; both use the same alias table and give the same answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from engine.store.sql import lit

# squashed spelling (lower case, letters and digits only) -> canonical key
DEFAULT_ALIASES: dict[str, str] = {
    "costcenter": "cost_center",
    "costcentre": "cost_center",
    "costcentrecode": "cost_center",
    "costcentercode": "cost_center",
    "costdepartment": "cost_center",
    "cc": "cost_center",
    "chargecode": "cost_center",
    "application": "application",
    "app": "application",
    "appname": "application",
    "applicationname": "application",
    "applicationid": "application",
    "environment": "environment",
    "env": "environment",
    "stage": "environment",
    "owner": "owner",
    "owneremail": "owner",
    "technicalowner": "owner",
    "createdby": "owner",
    "org": "org",
    "organisation": "org",
    "organization": "org",
    "businessunit": "business_unit",
    "bu": "business_unit",
}

CANONICAL_KEYS: tuple[str, ...] = ("cost_center", "application", "environment", "owner", "org")

_SQUASH = re.compile(r"[^a-z0-9]")
_SNAKE = re.compile(r"[^a-z0-9]+")


def squash(key: str) -> str:
    return _SQUASH.sub("", key.strip().lower())


def canonical_key(key: str, aliases: dict[str, str] | None = None) -> str:
    """Alias when known, else snake_case of the trimmed key (so unknown keys still compare equal across spellings)."""
    table = DEFAULT_ALIASES if aliases is None else aliases
    hit = table.get(squash(key))
    if hit:
        return hit
    return _SNAKE.sub("_", key.strip().lower()).strip("_")


def normalise_tags(tags: dict[str, Any] | None, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """First spelling wins when two keys collapse into one; values are kept as text, trimmed; empty ones dropped."""
    out: dict[str, str] = {}
    for k, v in (tags or {}).items():
        value = "" if v is None else str(v).strip()
        ck = canonical_key(str(k), aliases)
        if ck and value and ck not in out:
            out[ck] = value
    return out



def canonical_key_sql(key_expr: str, aliases: dict[str, str] | None = None) -> str:
    """The SQL twin of `canonical_key`."""
    table = DEFAULT_ALIASES if aliases is None else aliases
    alias_map = "MAP {" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in sorted(table.items())) + "}"
    squashed = f"regexp_replace(lower(trim({key_expr})), '[^a-z0-9]', '', 'g')"
    snake = f"trim(regexp_replace(lower(trim({key_expr})), '[^a-z0-9]+', '_', 'g'), '_')"
    return f"coalesce({alias_map}[{squashed}], {snake})"


def normalise_tags_sql(map_expr: str, aliases: dict[str, str] | None = None, *, entries: bool = False) -> str:
    """SQL turning a MAP(VARCHAR, VARCHAR) (or, with `entries`, a list of {key, value} structs, which may repeat a
    key) into a map with canonical keys; first spelling wins, empty values dropped, no entries → NULL."""
    key = canonical_key_sql("x.key", aliases)
    source = map_expr if entries else f"map_entries({map_expr})"
    cleaned = (
        f"list_filter(list_transform({source}, lambda x: {{'key': {key}, 'value': trim(x.value)}}),"
        " lambda x: x.value IS NOT NULL AND x.value <> '' AND x.key <> '')"
    )
    return f"CASE WHEN {map_expr} IS NULL THEN NULL ELSE {_entries_to_map(cleaned)} END"


def _entries_to_map(entries: str) -> str:
    """First occurrence of each key wins; an empty list gives NULL rather than an empty map."""
    keys = f"list_transform({entries}, lambda y: y.key)"
    dedup = f"list_filter({entries}, lambda x, i: list_position({keys}, x.key) = i)"
    return f"nullif(map_from_entries({dedup}), MAP {{}})"


def json_tags_sql(text_expr: str) -> str:
    """JSON object text -> MAP(VARCHAR, VARCHAR); NULL when it is not an object. Nested values become JSON text."""
    return f"TRY_CAST(TRY_CAST({text_expr} AS JSON) AS MAP(VARCHAR, VARCHAR))"


@dataclass(frozen=True)
class TagStandard:
    """What a well-tagged line carries: required keys and, per key, the allowed values (empty = any value)."""

    required: tuple[str, ...] = ("cost_center", "application", "environment")
    allowed: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"environment": ("prod", "production", "staging", "test", "dev", "sandbox")}
    )
    aliases: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))

    def to_json(self) -> str:
        return json.dumps({"required": list(self.required), "allowed": {k: list(v) for k, v in self.allowed.items()},
                           "aliases": self.aliases}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TagStandard:
        d = json.loads(text)
        return cls(
            required=tuple(canonical_key(k) for k in d.get("required", [])),
            allowed={canonical_key(k): tuple(v) for k, v in d.get("allowed", {}).items()},
            aliases={squash(k): v for k, v in d.get("aliases", DEFAULT_ALIASES).items()},
        )

    def violations(self, tags: dict[str, str]) -> list[str]:
        """Why one normalised tag set does not meet the standard (empty list = compliant)."""
        out = [f"missing tag '{k}'" for k in self.required if not tags.get(k)]
        for k, values in self.allowed.items():
            v = tags.get(k)
            if v and values and v.lower() not in {a.lower() for a in values}:
                out.append(f"tag '{k}' has value '{v}', allowed: {', '.join(values)}")
        return out


@dataclass(frozen=True)
class Coverage:
    """Share of effective cost carrying each required key, and carrying all of them with allowed values."""

    total_cost: float
    compliant_cost: float
    by_key: dict[str, float]

    @property
    def compliant_pct(self) -> float:
        return 100.0 * self.compliant_cost / self.total_cost if self.total_cost else 0.0

    def key_pct(self, key: str) -> float:
        return 100.0 * self.by_key.get(key, 0.0) / self.total_cost if self.total_cost else 0.0


def coverage(con: duckdb.DuckDBPyConnection, standard: TagStandard | None = None,
             billing_period: str | None = None) -> Coverage:
    """Coverage as % of effective cost (not of line count: a thousand tagged one-cent lines prove nothing)."""
    std = standard or TagStandard()
    params: list[Any] = []
    where = ""
    if billing_period:
        where = "WHERE billing_period = ?"
        params.append(billing_period)
    has = {k: f"coalesce(trim(tags[{lit(k)}]), '') <> ''" for k in std.required}
    ok_parts = list(has.values())
    for k, values in std.allowed.items():
        if values:
            allowed = ", ".join(lit(v.lower()) for v in values)
            ok_parts.append(f"(tags[{lit(k)}] IS NULL OR lower(trim(tags[{lit(k)}])) IN ({allowed}))")
    ok = " AND ".join(ok_parts) or "TRUE"
    key_sums = ", ".join(f"sum(CASE WHEN {cond} THEN effective_cost ELSE 0 END)::DOUBLE" for cond in has.values())
    sql = (f"SELECT coalesce(sum(effective_cost), 0)::DOUBLE, "
           f"coalesce(sum(CASE WHEN {ok} THEN effective_cost ELSE 0 END), 0)::DOUBLE"
           f"{', ' + key_sums if key_sums else ''} FROM cost_line {where}")
    row = con.sql(sql, params=params).fetchall()[0]
    by_key = {k: float(row[2 + i] or 0.0) for i, k in enumerate(std.required)}
    return Coverage(total_cost=float(row[0]), compliant_cost=float(row[1]), by_key=by_key)
