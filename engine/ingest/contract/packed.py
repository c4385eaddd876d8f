"""Columns stored packed in one JSON text column (docs/ingestion.md "FOCUS 1.0–1.4", docs/architecture.md).

Every column of `cost_line` costs every line of a load, NULL or not (measured on 2M lines: 13 all-NULL VARCHAR
columns add 1.7 s to a CREATE TABLE AS on disk, whatever the compression). The FOCUS 1.1–1.3 detail an auditor asks
for is rare — a split row's origin, a capacity reservation, a contract, the pricing currency — so it is kept in
one column, `focus_detail`: a JSON object of the detail a line carries, NULL when it carries none. A connector still
produces each detail column by name (typed, checked and hygiene-checked like any other); staging packs them.
Decimals are packed as strings, so they read back exact; migration 0028 makes each detail column a VIRTUAL generated
column over `focus_detail` under its old name, so readers select them as before and nothing is computed at load.
"""

from __future__ import annotations

# target table → packed column → its detail columns and their types, in order
PACKED: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "cost_line": {
        "focus_detail": (
            ("origin_resource_id", "VARCHAR"),            # a split row's own ResourceId (1.3)
            ("allocated_method_details", "VARCHAR"),      # AllocatedMethodDetails, JSON text (1.3)
            ("commitment_discount_quantity", "DOUBLE"),   # in commitment_discount_unit (1.1)
            ("commitment_discount_unit", "VARCHAR"),
            ("capacity_reservation_id", "VARCHAR"),       # (1.1)
            ("capacity_reservation_status", "VARCHAR"),   # Used / Unused (1.1)
            ("contract_applied", "VARCHAR"),              # ContractApplied, JSON text (1.3)
            ("service_subcategory", "VARCHAR"),           # (1.1)
            ("pricing_currency", "VARCHAR"),              # (1.2) the amount below is in it
            ("pricing_currency_effective_cost", "DECIMAL(38,10)"),
        ),
    },
}


def packed_parts(table: str, produced: set[str]) -> dict[str, list[tuple[str, str]]]:
    """For each packed column of `table`, the detail columns a plan produces (empty lists left out)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for packed, parts in PACKED.get(table, {}).items():
        have = [(c, t) for c, t in parts if c in produced]
        if have:
            out[packed] = have
    return out


def pack_sql(parts: list[tuple[str, str]], named: dict[str, str]) -> str:
    """The JSON object of the parts (a NULL part as JSON null), as VARCHAR; NULL when every part is NULL."""
    def value(c: str, t: str) -> str:
        return f"CAST({named[c]} AS VARCHAR)" if t.upper().startswith("DECIMAL") else named[c]

    none = " AND ".join(f"{named[c]} IS NULL" for c, _ in parts)
    pairs = ", ".join(f"'{c}', {value(c, t)}" for c, t in parts)
    return f"CASE WHEN {none} THEN NULL ELSE CAST(json_object({pairs}) AS VARCHAR) END"
