"""Google Cloud billing export (BigQuery standard/detailed usage cost) as Parquet or newline-delimited JSON, nested
records kept; a flattened CSV (`service.description` columns) also works.

Mapping decisions (docs/ingestion.md): effective cost = `cost + Σ credits.amount` (credits are negative) and billed
cost = `cost`; the billing period is `invoice.month` (YYYYMM); tags are resource `labels`, then `tags`, then
`project.labels` (first spelling of a key wins); a committed-use-discount credit marks the line Committed/Used.
Nested values are read through JSON paths so STRUCT, MAP and JSON-text encodings of the same export all load; a CSV
flattened by pandas writes `credits`/`labels` as Python-repr lists (`[{'amount': -5e-06, 'full_name': None}]`),
which are converted exactly (connectors/_kit/billing_sql.json_or_pyrepr) — a cell that is neither is quarantined,
never read as "no credits". Timestamps are ISO 8601 (BigQuery's `… UTC` spelling included); nothing else is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from connectors._kit.billing_sql import Source, columns_of, json_or_pyrepr, open_source, require
from engine.ingest.contract.connector import Connector, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.frames import run_plan_to_frame
from engine.ingest.contract.rules import ISO_FORMATS, Check, StagePlan, lit, parse_check, parse_decimal, text
from engine.ingest.contract.rules import parse_timestamp as _parse_ts

GCP_FORMATS = (*ISO_FORMATS, "%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S.%f UTC")
LISTS = {"credits": "credits as a JSON list (or a Python-repr list of plain values)",
         "labels": "labels as a JSON list of {key, value} (or its Python repr)",
         "tags": "tags as a JSON list of {key, value} (or its Python repr)",
         "project.labels": "project labels as a JSON list of {key, value} (or its Python repr)"}
CHARGE_CATEGORY = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding error": "Adjustment",
                   "rounding_error": "Adjustment"}


def _json(src: Source, col: str) -> str:
    """The column as JSON whatever DuckDB inferred (STRUCT, LIST, MAP, JSON or JSON text)."""
    t = src.type_of(col)
    ref = src.ref(col)
    if t.startswith("VARCHAR"):
        return json_or_pyrepr(text(ref))
    if t.startswith("JSON"):
        return ref
    return f"to_json({ref})"


def field(src: Source, dotted: str) -> str | None:
    """`service.description` from a nested `service` column or a flattened `service.description` column."""
    if src.has(dotted):
        return text(src.ref(dotted))
    flat = dotted.replace(".", "_")
    if src.has(flat):
        return text(src.ref(flat))
    head, _, rest = dotted.partition(".")
    if rest and src.has(head):
        return f"nullif(json_extract_string({_json(src, head)}, {lit('$.' + rest)}), '')"
    return None


class GcpBillingConnector:
    name = "gcp_billing"
    target_table = "cost_line"
    priority = 55
    loads_directly = True
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        cols = {c.lower() for c in columns_of(sniff)}
        nested = {"billing_account_id", "cost", "usage_start_time"} <= cols and bool(cols & {"service", "sku"})
        flat = {"billing_account_id", "cost", "usage_start_time", "service.description"} <= cols
        return nested or flat

    def plan(self, con: duckdb.DuckDBPyConnection, path: Path, encoding: str | None = None,
             **_: Any) -> StagePlan:
        src = open_source(con, path, encoding)
        require(src, path, "cost", "currency", "usage_start_time", "usage_end_time")
        checks: list[Check] = []

        def f(dotted: str) -> str:
            return field(src, dotted) or "NULL"

        def ts(col: str) -> str:
            ref = src.ref(col)
            t = src.type_of(col)
            if t.startswith("TIMESTAMP WITH TIME ZONE"):
                return f"CAST(timezone('UTC', {ref}) AS TIMESTAMP)"
            if t.startswith(("TIMESTAMP", "DATE")):
                return f"CAST({ref} AS TIMESTAMP)"
            expr = _parse_ts(text(ref), GCP_FORMATS)
            checks.append(parse_check(col, ref, expr, "a timestamp such as 2024-09-01 00:00:00 UTC"))
            return expr

        def dec(col: str) -> str:
            ref = src.ref(col)
            is_json = src.type_of(col).startswith("JSON")
            raw = f"json_extract_string({ref}, '$')" if is_json else f"CAST({ref} AS VARCHAR)"
            parsed = parse_decimal(raw)
            checks.append(parse_check(col, raw, parsed, "a decimal number"))
            return parsed

        cost = dec("cost")
        for col, what in LISTS.items():   # a list cell that is neither JSON nor a plain repr: never "no credits"
            if src.has(col) and src.type_of(col).startswith("VARCHAR"):
                raw = text(src.ref(col))
                checks.append(Check(col, f"({raw} IS NOT NULL AND ({_json(src, col)}) IS NULL)",
                                    f"{lit(f'expected {what}, got ')} || left({raw}, 60)"))
        credits = "[]"
        if src.has("credits"):
            credits = f"coalesce(json_extract_string({_json(src, 'credits')}, '$[*].amount'), [])"
            checks.append(Check(
                "credits", f"(len(list_filter({credits}, lambda x: {parse_decimal('x')} IS NULL)) > 0)",
                f"'expected every credits[].amount as a decimal number, got ' || "
                f"left(CAST(list_filter({credits}, lambda x: {parse_decimal('x')} IS NULL) AS VARCHAR), 60)"))
        credit_sum = f"coalesce(list_sum(list_transform({credits}, lambda x: {parse_decimal('x')})), 0)"
        credit_types = "[]"
        if src.has("credits"):
            credit_types = f"coalesce(json_extract_string({_json(src, 'credits')}, '$[*].type'), [])"
        cud = f"list_contains({credit_types}, 'COMMITTED_USAGE_DISCOUNT')"
        start = ts("usage_start_time")
        month = f("invoice.month")
        period = (f"coalesce(CASE WHEN regexp_full_match({month}, '[0-9]{{6}}') "
                  f"THEN left({month}, 4) || '-' || right({month}, 2) END, strftime({start}, '%Y-%m'))")
        cost_type = f"lower({f('cost_type')})"
        category = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in CHARGE_CATEGORY.items())
        list_cost = field(src, "cost_at_list")
        cols: dict[str, str] = {
            "billing_period": period,
            "charge_period_start": start,
            "charge_period_end": ts("usage_end_time"),
            "provider": "'Google Cloud'",
            "billing_account_id": f("billing_account_id"),
            "sub_account_id": f("project.id"),
            "sub_account_name": f("project.name"),
            "service_name": f("service.description"),
            "sku_id": f("sku.id"),
            "charge_description": f("sku.description"),
            "resource_id": f"coalesce({f('resource.global_name')}, {f('resource.name')})",
            "resource_name": f("resource.name"),
            "region_id": f"coalesce({f('location.region')}, {f('location.location')})",
            "availability_zone": f("location.zone"),
            "charge_category": f"coalesce(CASE {cost_type} {category} END, 'Usage')",
            "charge_frequency": "'Usage-Based'",
            "pricing_category": f"CASE WHEN {cud} THEN 'Committed' ELSE 'Standard' END",
            "commitment_discount_status": f"CASE WHEN {cud} THEN 'Used' END",
            "billed_cost": cost,
            "effective_cost": f"{cost} + {credit_sum}",
            "list_cost": parse_decimal(list_cost) if list_cost else "NULL",
            "consumed_quantity": f"TRY_CAST({f('usage.amount')} AS DOUBLE)",
            "consumed_unit": f("usage.unit"),
            "pricing_quantity": f"TRY_CAST({f('usage.amount_in_pricing_units')} AS DOUBLE)",
            "pricing_unit": f("usage.pricing_unit"),
            "billing_currency": f"upper({f('currency')})",
        }
        # resource labels, then tags, then project labels: the first spelling of a key wins
        parts = [_json(src, c) if src.has(c) else "NULL" for c in ("labels", "tags")]
        if src.has("project.labels"):   # flattened CSV
            parts.append(_json(src, "project.labels"))
        else:
            parts.append(f"json_extract({_json(src, 'project')}, '$.labels')" if src.has("project") else "NULL")
        tags_key = f"nullif(CAST(json_array({', '.join(parts)}) AS VARCHAR), '[null,null,null]')"
        lists = [f"coalesce(TRY_CAST(json_extract(k, '$[{i}]') AS STRUCT(key VARCHAR, value VARCHAR)[]), [])"
                 for i in range(3)]
        tags_entries = f"list_concat({', '.join(lists)})"
        return StagePlan(kind=self.name, target_table=self.target_table, source_sql=src.sql, columns=cols,
                         checks=checks, warnings=list(src.warnings), rejects_sql=src.rejects_sql, tags_key=tags_key,
                         tags_entries=tags_entries, tags_column="labels")

    def parse(self, path: Path) -> ParseResult:
        return run_plan_to_frame(self, path)


CONNECTOR: Connector = GcpBillingConnector()
