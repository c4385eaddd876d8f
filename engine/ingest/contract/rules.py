"""Validation as SQL: every rule is a predicate that is TRUE for a bad row, so 10M lines split into accepted and
quarantined in one DuckDB pass instead of a Python loop.

Any connector (billing or inventory) describes its output as a `StagePlan`: a source SELECT with a `__row` column
(1-based data row), one SQL expression per canonical column, and its own raw checks (e.g. "the text was there but is
not a number"). `checks_for` adds the target table's generic rules (required, enum, currency, period, absurd or
negative values); `engine/ingest/staging.py` runs the lot and writes the staged table the pipeline loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.ingest.contract.currencies import ISO_4217
from engine.store.sql import lit as lit  # re-exported: the contract is all a connector imports
from engine.store.sql import q as q


@dataclass(frozen=True)
class Check:
    """One rule: `bad` is a SQL predicate TRUE for a failing row; `reason` a SQL text expression saying why."""

    column: str
    bad: str
    reason: str


@dataclass(frozen=True)
class TableRules:
    """Generic rules of one canonical table; a connector's own checks come first."""

    required: tuple[str, ...] = ()
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    currency: tuple[str, ...] = ()
    period: tuple[str, ...] = ()          # YYYY-MM
    non_negative: tuple[str, ...] = ()
    absurd_above: dict[str, float] = field(default_factory=dict)   # |value| at or above this is refused
    natural_key: tuple[str, ...] = ()
    ordered: tuple[tuple[str, str], ...] = ()                      # (start, end): end must not precede start
    dated: tuple[str, ...] = ()            # timestamp/date columns whose year must fall in DATE_WINDOW (and periods)


COST_LIMIT = 1e11  # one line of a hundred billion is a unit or parsing error, not a bill

RULES: dict[str, TableRules] = {
    "cost_line": TableRules(
        required=("billing_period", "charge_period_start", "charge_period_end", "provider", "billed_cost",
                  "effective_cost", "billing_currency"),
        enums={
            "charge_category": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
            "charge_class": ("Correction",),
            "charge_frequency": ("One-Time", "Recurring", "Usage-Based"),
            "pricing_category": ("Standard", "Dynamic", "Committed", "Other"),
            "commitment_discount_status": ("Used", "Unused"),
        },
        currency=("billing_currency",),
        period=("billing_period",),
        absurd_above={"billed_cost": COST_LIMIT, "effective_cost": COST_LIMIT, "list_cost": COST_LIMIT,
                      "contracted_cost": COST_LIMIT},
        ordered=(("charge_period_start", "charge_period_end"),),
        dated=("charge_period_start", "charge_period_end", "billing_period"),
    ),
    "asset": TableRules(
        required=("asset_id", "class"),
        non_negative=("cost", "residual", "useful_life_months"),
        absurd_above={"cost": 1e9, "useful_life_months": 600},
        natural_key=("asset_id",),
    ),
    "driver_value": TableRules(
        required=("period", "driver", "target_kind", "target_id", "quantity"),
        period=("period",),
        non_negative=("quantity",),
        absurd_above={"quantity": 1e15},
        enums={"target_kind": ("cost_center", "application", "business_unit", "user")},
        natural_key=("period", "driver", "target_kind", "target_id"),
    ),
    "licence_entitlement": TableRules(
        required=("product", "entitlements", "unit_cost_month"),
        non_negative=("entitlements", "unit_cost_month"),
        absurd_above={"entitlements": 1e8, "unit_cost_month": 1e6},
        natural_key=("product",),
    ),
    "licence_assignment": TableRules(
        required=("product", "username"),
        natural_key=("product", "username"),
    ),
}


def register_rules(table: str, rules: TableRules) -> None:
    """Let a module that adds a canonical table (via a migration) declare its rules next to its connector."""
    RULES[table] = rules


def rules_for(table: str) -> TableRules:
    return RULES.get(table, TableRules())


# ---- typed parsing of text cells: each returns a SQL expression that is NULL when the text does not parse ----

# A billing date outside these years is a parsing error (a day read as a year, a two-digit year read as the year 25),
# not a bill: `checks_for` quarantines typed dates and YYYY-MM periods of tables that declare `dated` columns outside
# it (the check runs on the typed column, computed once; measured, a window inside `parse_timestamp` cost a third of
# a 1M-line CSV load).
DATE_WINDOW: tuple[int, int] = (2000, 2100)

# ISO 8601 spellings (with `T` or a space, `Z`, fractions, minutes only, date only): none can be read in two ways.
ISO_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%gZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d",
    "%Y-%m-%dT%H:%MZ", "%Y-%m-%d %H:%M",
)
# Month first, four-digit year: only for exports whose producer documents it (Azure cost details write MM/DD/YYYY).
US_FORMATS: tuple[str, ...] = ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p")
TIMESTAMP_FORMATS: tuple[str, ...] = (*ISO_FORMATS, *US_FORMATS, "%Y/%m/%d")


def _has_offset(expr: str) -> str:
    """Text ending in a UTC offset (+02:00, +0200, +02, -05:00, -0530, -05). A plain CAST to TIMESTAMP drops the
    offset (2020-11-09 23:00:00+02:00 was read as 23:00); these go through TIMESTAMPTZ and are converted to UTC. A
    '+' anywhere, or a '-' after a ':' (a negative offset follows the time; a date's own dashes come before it).
    Two string scans, not a regular expression: measured on 1M lines, a regexp cost a fifth of the load."""
    return f"(contains({expr}, '+') OR {expr} LIKE '%:%-%')"


def parse_timestamp(expr: str, formats: tuple[str, ...] = TIMESTAMP_FORMATS) -> str:
    """Text → TIMESTAMP (UTC, naive), or NULL. Text without a slash is ISO 8601: DuckDB's own cast (through
    TIMESTAMPTZ when it ends in an offset, converted to UTC), then the listed formats. Text with a slash is read ONLY
    by the listed formats, in order, and only when it carries a four-digit year: DuckDB's cast would read `4/1/25` as
    the year 4 before any format is tried, and its `%Y` takes `25` for the year 25."""
    fmts = "[" + ", ".join(lit(f) for f in formats) + "]"
    iso = (f"CASE WHEN {_has_offset(expr)} THEN TRY_CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS "
           f"TIMESTAMP) ELSE TRY_CAST({expr} AS TIMESTAMP) END")
    listed = f"try_strptime(trim({expr}), {fmts})"
    year4 = f"regexp_matches({expr}, '(^|/)[0-9]{{4}}([^0-9]|$)')"
    return (f"CASE WHEN contains({expr}, '/') THEN CASE WHEN {year4} THEN {listed} END "
            f"ELSE coalesce({iso}, {listed}) END")


def parse_date(expr: str) -> str:
    return f"CAST({parse_timestamp(expr)} AS DATE)"


def parse_decimal(expr: str) -> str:
    """Text → DECIMAL(38,10); accepts surrounding spaces and exponent notation (Azure writes 5.64902E-05).
    Amounts below 10^8 parse as the int64-backed DECIMAL(18,10) first — the same rounding at the 10th decimal
    (tests/unit/test_parse_decimal.py), about twice as fast as the 128-bit parse that the rest falls back to."""
    return (f"coalesce(CAST(TRY_CAST({expr} AS DECIMAL(18, 10)) AS DECIMAL(38, 10)), "
            f"TRY_CAST({expr} AS DECIMAL(38, 10)), "
            f"TRY_CAST(TRY_CAST({expr} AS DOUBLE) AS DECIMAL(38, 10)))")


def parse_double(expr: str) -> str:
    return f"TRY_CAST({expr} AS DOUBLE)"


def text(expr: str) -> str:
    """Text with empty and the literal NULL (FOCUS samples write it) → NULL. Not trimmed: the CSV reader hands
    over the cell as written, and trimming 10M cells per column costs more than the whole read."""
    return f"nullif(nullif(CAST({expr} AS VARCHAR), ''), 'NULL')"


def normalise_enum(expr: str, values: tuple[str, ...]) -> str:
    """Casing and separator variants map to the canonical spelling ('Usage-based' → 'Usage-Based'); the canonical
    spelling itself takes the cheap path."""
    cases = " ".join(
        f"WHEN {lit(v.lower().replace('-', '').replace(' ', '').replace('_', ''))} THEN {lit(v)}" for v in values
    )
    exact = " OR ".join(f"{expr} = {lit(v)}" for v in values)
    key = f"replace(replace(replace(lower(trim({expr})), '-', ''), ' ', ''), '_', '')"
    return f"CASE WHEN {exact} THEN {expr} ELSE CASE {key} {cases} ELSE {text(expr)} END END"


def parse_check(column: str, raw: str, parsed: str, expected: str) -> Check:
    """The cell had text but it did not parse: quarantine with the value shown (cut to 60 characters)."""
    return Check(
        column=column,
        bad=f"({text(raw)} IS NOT NULL AND ({parsed}) IS NULL)",
        reason=f"{lit(f'expected {expected}, got ')} || left({text(raw)}, 60)",
    )


def underflow_check(column: str, raw: str, parsed: str) -> Check:
    """A non-zero amount too small for any number type (`1e-400`): it would read as 0, so it is quarantined, never
    stored as 0. Digits beyond the 10th decimal that a double still holds (the FOCUS sample's `-0.00000000004`
    float noise) are rounded as documented, not refused. Only cells that parsed to 0 are looked at again."""
    t = text(raw)
    return Check(
        column=column,
        bad=f"(({parsed}) = 0 AND TRY_CAST({t} AS DOUBLE) = 0 AND regexp_matches({t}, '^[^eE]*[1-9]'))",
        reason=f"{lit('expected a decimal number within the range of a double (this one underflows: it would be ')}"
               f" || {lit('stored as 0), got ')} || left({t}, 60)",
    )


def checks_for(table: str, columns: dict[str, str]) -> list[Check]:
    """Generic checks over the typed canonical expressions a connector produced (`columns`: name → SQL)."""
    r = rules_for(table)
    out: list[Check] = []
    for c in r.required:
        if c in columns:
            out.append(Check(c, f"(({columns[c]}) IS NULL)", lit("required value missing")))
    for c in r.period:
        if c in columns:
            out.append(Check(c, f"(NOT regexp_full_match(({columns[c]}), '[0-9]{{4}}-(0[1-9]|1[0-2])'))",
                             lit("expected a period YYYY-MM, got ") + f" || left(({columns[c]}), 60)"))
    for c in r.currency:
        if c in columns:
            codes = ", ".join(lit(x) for x in sorted(ISO_4217))
            out.append(Check(c, f"(({columns[c]}) NOT IN ({codes}))",
                             lit("expected an ISO 4217 currency code, got ") + f" || left(({columns[c]}), 20)"))
    for c, values in r.enums.items():
        if c in columns:
            allowed = ", ".join(lit(v) for v in values)
            out.append(Check(c, f"(({columns[c]}) NOT IN ({allowed}))",
                             lit(f"expected one of {', '.join(values)}, got ") + f" || left(({columns[c]}), 40)"))
    for c in r.non_negative:
        if c in columns:
            out.append(Check(c, f"(({columns[c]}) < 0)", lit("expected a value ≥ 0, got ") + f" || ({columns[c]})"))
    for c, limit in r.absurd_above.items():
        if c in columns:
            out.append(Check(c, f"(abs(({columns[c]})::DOUBLE) >= {limit!r})",
                             lit(f"absurd value (≥ {limit:g}), got ") + f" || ({columns[c]})"))
    lo, hi = DATE_WINDOW
    for c in r.dated:
        if c not in columns:
            continue
        if c in r.period:   # YYYY-MM text (its shape is checked above)
            bad = f"(left(({columns[c]}), 4) NOT BETWEEN '{lo:04d}' AND '{hi:04d}')"
        else:
            bad = (f"(({columns[c]}) < TIMESTAMP '{lo:04d}-01-01' OR "
                   f"({columns[c]}) >= TIMESTAMP '{hi + 1:04d}-01-01')")
        out.append(Check(c, bad, lit(f"expected a date in the years {lo}–{hi}, got ") +
                         f" || left(CAST(({columns[c]}) AS VARCHAR), 30)"))
    for start, end in r.ordered:   # after the window: a year-25 end is that, not an inverted period
        if start in columns and end in columns:
            out.append(Check(end, f"(({columns[end]}) < ({columns[start]}))",
                             lit(f"{end} precedes {start}")))
    return out


@dataclass
class StagePlan:
    """A connector's description of its output; `engine/ingest/staging.py` turns it into one CREATE TABLE … AS SELECT.

    `source_sql` must expose `__row` and the raw source columns; `columns` maps canonical column → typed SQL over
    them; `checks` are the connector's own (raw) checks, run before the generic ones of `target_table`.
    `required_source` names the source columns the file must have (missing → the whole file is refused).
    """

    kind: str
    target_table: str
    source_sql: str
    columns: dict[str, str]
    checks: list[Check] = field(default_factory=list)
    natural_key: tuple[str, ...] | None = None     # None → the table's default
    warnings: list[str] = field(default_factory=list)
    rejects_sql: str | None = None                 # SELECT row_number, column_name, reason, raw of unreadable rows
    setup_sql: list[str] = field(default_factory=list)  # statements to run first (e.g. lookup tables)
    # Tags are normalised once per DISTINCT raw value, not per row (10M lines carry a few thousand tag sets):
    # `tags_key` is SQL over `s` giving the raw tags as text; `tags_entries` is SQL over `k` (that text) giving a
    # list of {key, value} structs (repeats allowed, first wins), or NULL when the text is not valid tags.
    tags_key: str | None = None
    tags_entries: str | None = None
    tags_column: str = "Tags"
