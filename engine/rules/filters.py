"""Structured filters (field, operator, value) compiled to parameterised SQL over cost_line.

Field names come from a fixed whitelist and values always travel as parameters, so nothing a user typed is
ever pasted into SQL text. `tag:<key>` reads the normalised tags map.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from engine.errors import InputError

Op = Literal["eq", "ne", "in", "not_in", "is_null", "not_null", "starts_with", "contains", "gt", "gte", "lt", "lte"]

FIELDS: frozenset[str] = frozenset(
    {
        "provider", "billing_account_id", "sub_account_id", "service_name", "service_category", "resource_id",
        "resource_type", "region_id", "sku_id", "charge_category", "charge_class", "pricing_category",
        "commitment_discount_id", "commitment_discount_status", "billing_currency", "tag_cost_center",
        "tag_application", "tag_environment", "invoice_id", "batch_id", "consumed_unit", "pricing_unit",
        "billed_cost", "effective_cost", "list_cost", "consumed_quantity",
    }
)
NUMERIC_FIELDS: frozenset[str] = frozenset({"billed_cost", "effective_cost", "list_cost", "consumed_quantity"})
ASSET_FIELDS: frozenset[str] = frozenset(
    {"asset_id", "asset_tag", "serial", "class", "model", "vendor", "owner", "cost_center_id", "app_id", "location",
     "environment", "lifecycle_status", "source", "batch_id"}
)
LICENCE_FIELDS: frozenset[str] = frozenset({"product", "vendor", "batch_id"})
_TAG_KEY = re.compile(r"^tag:[a-z0-9_.:/-]{1,64}$")
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def valid_field(field: str, fields: frozenset[str] = FIELDS) -> bool:
    return field in fields or (fields is FIELDS and bool(_TAG_KEY.match(field)))


def _column(field: str, alias: str, fields: frozenset[str]) -> tuple[str, list[Any]]:
    if field in fields:
        return f'{alias}."{field}"', []
    if fields is FIELDS and _TAG_KEY.match(field):
        return f"element_at({alias}.tags, ?)[1]", [field[4:]]
    raise InputError(f"unknown filter field {field!r}; allowed: {sorted(fields)}")


def compile_one(field: str, op: str, value: Any, alias: str = "l", fields: frozenset[str] = FIELDS,
                ) -> tuple[str, list[Any]]:
    """One condition → (SQL with ? placeholders, params). NULL-safe: `ne`/`not_in` keep rows where the field is NULL."""
    col, params = _column(field, alias, fields)
    if op == "is_null":
        return f"({col} IS NULL)", params
    if op == "not_null":
        return f"({col} IS NOT NULL)", params
    if op in ("in", "not_in"):
        values = list(value) if isinstance(value, list | tuple) else [value]
        if not values:
            return ("FALSE" if op == "in" else "TRUE"), []
        marks = ", ".join("?" for _ in values)
        if op == "in":
            return f"({col} IN ({marks}))", params + values
        return f"({col} IS NULL OR {col} NOT IN ({marks}))", params + params + values
    if op == "starts_with":
        return f"starts_with({col}, ?)", params + [str(value)]
    if op == "contains":
        return f"contains({col}, ?)", params + [str(value)]
    if op in _COMPARE:
        if op == "ne":
            return f"({col} IS NULL OR {col} <> ?)", params + params + [value]
        return f"({col} {_COMPARE[op]} ?)", params + [value]
    raise InputError(f"unknown filter operator {op!r}")


def compile_all(conditions: Sequence[tuple[str, str, Any]], alias: str = "l", fields: frozenset[str] = FIELDS,
                ) -> tuple[str, list[Any]]:
    """AND of conditions; an empty list matches every line (a catch-all step)."""
    if not conditions:
        return "TRUE", []
    parts: list[str] = []
    params: list[Any] = []
    for field, op, value in conditions:
        sql, p = compile_one(field, op, value, alias, fields)
        parts.append(sql)
        params.extend(p)
    return "(" + " AND ".join(parts) + ")", params
