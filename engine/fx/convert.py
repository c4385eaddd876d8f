"""Conversion at ingest: the parent reads the rates in force and hands them to the child in the plan options
(`plan_options`); staging attaches them to a cost-line plan (`attach`) and rewrites the typed money columns
(`typed_sql`), so the child's verdicts and the parent's direct load run the very same SQL and the plan's
fingerprint covers the rates.

Per line: `fx_rate` = 1 when `billing_currency` is the reporting currency (a cheap CASE, nothing looked up),
otherwise the rate of (`billing_period`, `billing_currency`) from a one-row temp table of the rates (a constant
list indexed by currency and month: no join per row); `billed_cost` / `effective_cost` / `list_cost` /
`contracted_cost` become `round(amount * fx_rate, 10)`, the file's amounts are kept. A foreign line with no rate is
quarantined naming the currency and the period (`missing_rate_check`).

What is stored (migration 0028): a converted line's reporting currency, rate and the file's own amounts in one JSON
text column, `fx_detail` (amounts and rate as strings: exact); a line billed in the reporting currency stores NULL
there. `reporting_currency`, `fx_rate` and `*_billing` are generated columns over it (rate 1 and the line's own
amounts when it is NULL), so readers keep their names and a load in the reporting currency writes one NULL column
instead of six.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import duckdb

from engine.ingest.contract.rules import COST_LIMIT, Check, StagePlan, lit

OPTION = "fx"                                   # the plan option carrying {"reporting": "USD", "rates": {...}}
MONEY = ("billed_cost", "effective_cost", "list_cost", "contracted_cost")
BILLING = {c: f"{c}_billing" for c in MONEY}    # the file's own amounts
PRODUCED = (*BILLING.values(), "reporting_currency", "fx_rate", "fx_detail")
RATES_TABLE = "__fx_rates"
RATE_TYPE = "DECIMAL(38, 10)"
HINT = "load one on FX rates or with python -m engine fx load FILE"


@dataclass(frozen=True)
class FxSpec:
    """The reporting currency and the rates in force: currency → period (YYYY-MM) → rate as exact text."""

    reporting: str
    rates: dict[str, dict[str, str]]

    def as_option(self) -> dict[str, Any]:
        return {"reporting": self.reporting, "rates": self.rates}

    @classmethod
    def from_option(cls, value: Any) -> FxSpec | None:
        if not isinstance(value, dict):
            return None
        rates = {str(c): {str(p): str(r) for p, r in ps.items()} for c, ps in dict(value.get("rates") or {}).items()}
        return cls(str(value["reporting"]), rates)


@dataclass
class ConvertedPlan(StagePlan):
    """A cost-line plan with the FX spec attached (a field of the plan, so `plan_fingerprint` covers it)."""

    fx: dict[str, Any] = field(default_factory=dict)


def plan_options(con: duckdb.DuckDBPyConnection, options: dict[str, Any] | None,
                 reporting: str | None = None) -> dict[str, Any]:
    """The ingest options with the rates in force added (the parent's side; the child never opens the store)."""
    from engine.fx import rates as fx_rates  # noqa: PLC0415 - the child imports this module without the store

    cur = reporting or fx_rates.reporting_currency()
    by: dict[str, dict[str, str]] = {}
    for (period, currency), rate in sorted(fx_rates.in_force(con, cur).items()):
        by.setdefault(currency, {})[period] = str(rate)
    return {**(options or {}), OPTION: FxSpec(cur, by).as_option()}


def pop_spec(options: dict[str, Any]) -> FxSpec | None:
    """Take the FX option out of a copy of the connector options (connectors never see it)."""
    return FxSpec.from_option(options.pop(OPTION, None))


def attach(plan: StagePlan, spec: FxSpec | None) -> StagePlan:
    """A cost-line plan carrying `spec` and the setup statement of its rates table; other plans as they are."""
    if spec is None or plan.target_table != "cost_line":
        return plan
    values = {f.name: getattr(plan, f.name) for f in fields(StagePlan)}
    values["columns"] = {c: e for c, e in plan.columns.items() if c not in PRODUCED}
    setup = _rates_table_sql(spec)
    values["setup_sql"] = [*plan.setup_sql, *([setup] if setup else [])]
    return ConvertedPlan(**values, fx=spec.as_option())


def spec_of(plan: StagePlan) -> FxSpec | None:
    return FxSpec.from_option(plan.fx) if isinstance(plan, ConvertedPlan) else None


def _month(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def _layout(spec: FxSpec) -> tuple[list[str], int, int]:
    """Currencies in order, the first month index and the span of months the rates cover."""
    periods = sorted({p for ps in spec.rates.values() for p in ps})
    if not periods:
        return [], 0, 0
    base = _month(periods[0])
    return sorted(spec.rates), base, _month(periods[-1]) - base + 1


def _rates_table_sql(spec: FxSpec) -> str | None:
    """One row: `r` every rate as one flat list (currency-major, month-minor, NULL where none), `ci` currency →
    its block. Written as two string literals parsed once, so a store holding years of ECB rates costs the query
    nothing to parse (measured: a 9,000-entry CASE or MAP literal cost ~1 s per statement)."""
    currencies, base, span = _layout(spec)
    if not currencies:
        return None
    flat = ",".join(spec.rates[c].get(_period(base + m), "") for c in currencies for m in range(span))
    return (f"CREATE OR REPLACE TEMP TABLE {RATES_TABLE} AS SELECT "
            f"list_transform(string_split({lit(flat)}, ','), lambda x: TRY_CAST(nullif(x, '') AS {RATE_TYPE})) AS r, "
            f"map_from_entries(list_transform(string_split({lit(','.join(currencies))}, ','), "
            f"lambda x, i: struct_pack(k := x, v := CAST(i - 1 AS INTEGER)))) AS ci")


def _period(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def rate_sql(spec: FxSpec, currency: str, period: str) -> str:
    """The rate of one line, over the typed currency and period expressions."""
    currencies, base, span = _layout(spec)
    one = f"CAST(1 AS {RATE_TYPE})"
    if not currencies:
        return f"CASE WHEN {currency} = {lit(spec.reporting)} THEN {one} END"
    month = f"(TRY_CAST(left({period}, 4) AS INTEGER) * 12 + TRY_CAST(substr({period}, 6, 2) AS INTEGER) - 1 - {base})"
    index = (f"CASE WHEN {month} BETWEEN 0 AND {span - 1} AND length({period}) = 7 "
             f"THEN (SELECT ci FROM {RATES_TABLE})[{currency}] * {span} + {month} + 1 END")
    return (f"CASE WHEN {currency} = {lit(spec.reporting)} THEN {one} "
            f"ELSE (SELECT r FROM {RATES_TABLE})[{index}] END")


def typed_sql(src: str, spec: FxSpec, have: set[str]) -> tuple[str, list[tuple[str, str]]]:
    """Wrap the typed source (`__c_<col>` columns): the rate of each line, then the money columns in the reporting
    currency and the file's amounts kept. Returns the SQL and the columns it adds (name, type)."""
    cur, per = "s.__c_billing_currency", "s.__c_billing_period"
    rated = f"(SELECT s.*, {rate_sql(spec, cur, per)} AS __fx FROM {src} s)"
    money = [c for c in MONEY if c in have]

    def converted(c: str) -> str:
        x = f"s.__c_{c}"
        # an amount beyond the absurd limit stays as it is: its check quarantines it (and the product cannot
        # overflow DECIMAL(38, 20))
        return (f"CASE WHEN {cur} = {lit(spec.reporting)} OR s.__fx IS NULL OR abs({x}) >= {COST_LIMIT!r} THEN {x} "
                f"ELSE CAST(round({x} * s.__fx, 10) AS {RATE_TYPE}) END AS __c_{c}")

    replace = f" REPLACE ({', '.join(converted(c) for c in money)})" if money else ""
    kept = "".join(f", '{c}', CAST(s.__c_{c} AS VARCHAR)" for c in money)
    detail = (f"CASE WHEN {cur} = {lit(spec.reporting)} OR s.__fx IS NULL THEN NULL ELSE CAST(json_object("
              f"'reporting_currency', {lit(spec.reporting)}, 'fx_rate', CAST(s.__fx AS VARCHAR){kept}) AS VARCHAR) "
              f"END AS __c_fx_detail")
    return f"(SELECT *{replace}, {detail} FROM {rated} s)", [("fx_detail", "VARCHAR")]


def missing_rate_check(spec: FxSpec) -> Check:
    """A line in another currency whose period has no rate: quarantined, naming both (after the generic checks,
    so a missing or non-ISO currency and a malformed period keep their own reasons)."""
    return Check("billing_currency", "(s.__fx IS NULL)",
                 f"'no FX rate for ' || s.__c_billing_currency || ' in ' || s.__c_billing_period || "
                 f"{lit(f' (reporting currency {spec.reporting}): {HINT}')}")
