"""Depreciation that matches the fixed-asset register: methods, conventions, components, schedules, journals.

Design (docs/cost-models.md has the full note):
- A method yields one amount per *asset year* (12 months from the start of depreciation; the last may be partial).
  Within an asset year depreciation accrues evenly per month, which is how the annual check figures of a fixed-asset
  policy turn into monthly allocation periods.
- A convention only moves the start of depreciation (t0): full month counts the in-service month in full, mid-month
  counts half of it, half-year starts at the middle of the fiscal year, mid-quarter at the middle of the fiscal
  quarter. Depreciation the timeline places before the in-service month is caught up in the in-service month, so
  nothing is booked before the asset exists and each fiscal year still carries what the convention says.
- Cents: the *cumulative* depreciation at each month end is rounded, and a month's charge is the difference of two
  rounded cumulatives. The last month therefore lands exactly on cost − residual, whatever the method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import duckdb
import polars as pl

from engine.errors import InputError
from engine.fiscal import calendar as fiscal_calendar
from engine.outputs.exports import to_csv_bytes

Method = Literal["straight_line", "declining_balance", "ddb", "syd", "units_of_production"]
Convention = Literal["full_month", "mid_month", "half_year", "mid_quarter"]
CENT = Decimal("0.01")
TWELVE = Decimal(12)

SCHEDULE_SCHEMA = pl.Schema({
    "asset_id": pl.String(),
    "component": pl.String(),
    "cost_center_id": pl.String(),
    "period": pl.String(),
    "depreciation": pl.Decimal(18, 2),
    "accumulated": pl.Decimal(18, 2),
    "book_value": pl.Decimal(18, 2),
})


def _c(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _year_lengths(life_months: int) -> list[int]:
    full, rest = divmod(life_months, 12)
    return [12] * full + ([rest] if rest else [])


def annual_amounts(cost: Decimal, residual: Decimal, life_months: int, method: Method, *,
                   factor: Decimal = Decimal(2), switch_to_sl: bool | None = None) -> list[Decimal]:
    """Depreciation per asset year, unrounded, summing to cost − residual (the last year takes what is left).

    Declining balance applies `factor / life in years` to the opening book value (residual is not deducted first,
    as accounting texts do) and is capped so book value never falls below residual. With `switch_to_sl` (default for
    ``ddb``) a year takes the larger of the declining amount and straight-line over the remaining life.
    """
    if life_months < 1:
        raise InputError("useful life must be at least one month")
    if cost < 0 or residual < 0 or residual > cost:
        raise InputError("need cost ≥ residual ≥ 0")
    depreciable = cost - residual
    lengths = _year_lengths(life_months)
    years = Decimal(life_months) / TWELVE
    out: list[Decimal] = []
    if method == "straight_line":
        out = [depreciable * n / Decimal(life_months) for n in lengths]
    elif method == "syd":
        weights: list[Decimal] = []
        elapsed = Decimal(0)
        for n in lengths:
            weights.append((years - elapsed) * Decimal(n) / TWELVE)
            elapsed += Decimal(n) / TWELVE
        total = sum(weights, Decimal(0))
        out = [depreciable * w / total for w in weights]
    elif method in ("declining_balance", "ddb"):
        if method == "ddb":
            factor = Decimal(2)
        switch = (method == "ddb") if switch_to_sl is None else switch_to_sl
        if factor <= 0:
            raise InputError("declining-balance factor must be positive")
        rate = factor / years
        book = cost
        remaining = Decimal(life_months)
        for n in lengths:
            amount = book * rate * Decimal(n) / TWELVE
            if switch:
                amount = max(amount, (book - residual) * Decimal(n) / remaining)
            amount = min(amount, book - residual)
            out.append(amount)
            book -= amount
            remaining -= n
    elif method == "units_of_production":
        raise InputError("units of production depends on usage: use units_schedule")
    else:
        raise InputError(f"unknown depreciation method {method!r}")
    out[-1] = depreciable - sum(out[:-1], Decimal(0))
    return out


def _month_index(d: date) -> int:
    return d.year * 12 + d.month - 1


def _period(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def _period_index(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def fiscal_year_of(period: str, fiscal_year_start_month: int = 1) -> int:
    """A fiscal year is named by the calendar year it ends in (FY2027 = Apr 2026 – Mar 2027 for an April start).
    The fiscal calendar's own rule (engine/fiscal/calendar.py), so depreciation and month close agree; a period is
    a `YYYY-MM` slot, which under a 4-4-5 scheme stands for that fiscal period's weeks."""
    return fiscal_calendar.fiscal_year_of(period, fiscal_year_start_month)


def convention_start(in_service: date, convention: Convention, fiscal_year_start_month: int = 1) -> Decimal:
    """t0 in months relative to the first day of the in-service month (may be negative or a half month)."""
    if not 1 <= fiscal_year_start_month <= 12:
        raise InputError("fiscal year start month must be 1..12")
    mi = _month_index(in_service)
    fy_start = mi - ((in_service.month - fiscal_year_start_month) % 12)
    if convention == "full_month":
        return Decimal(0)
    if convention == "mid_month":
        return Decimal("0.5")
    if convention == "half_year":
        return Decimal(fy_start + 6 - mi)
    if convention == "mid_quarter":
        quarter_start = fy_start + 3 * ((mi - fy_start) // 3)
        return Decimal(quarter_start - mi) + Decimal("1.5")
    raise InputError(f"unknown convention {convention!r}")


@dataclass(frozen=True)
class Component:
    """A separately depreciated part of an asset (IAS 16 §43): its own cost, residual, life and method."""

    name: str
    cost: Decimal
    useful_life_months: int
    residual: Decimal = Decimal(0)
    method: Method = "straight_line"
    factor: Decimal = Decimal(2)
    switch_to_sl: bool | None = None
    total_units: Decimal | None = None


@dataclass(frozen=True)
class Asset:
    """What the schedule needs; an asset with no components depreciates as one."""

    asset_id: str
    in_service: date
    cost: Decimal
    useful_life_months: int
    residual: Decimal = Decimal(0)
    method: Method = "straight_line"
    convention: Convention = "full_month"
    cost_center_id: str | None = None
    factor: Decimal = Decimal(2)
    switch_to_sl: bool | None = None
    total_units: Decimal | None = None
    components: tuple[Component, ...] = field(default_factory=tuple)

    def parts(self) -> tuple[Component, ...]:
        if self.components:
            if sum((c.cost for c in self.components), Decimal(0)) != self.cost:
                raise InputError(f"{self.asset_id}: component costs must add up to the asset cost")
            return self.components
        return (Component("whole", self.cost, self.useful_life_months, self.residual, self.method, self.factor,
                          self.switch_to_sl, self.total_units),)


def _cumulative(amounts: Sequence[Decimal], lengths: Sequence[int], tau: Decimal) -> Decimal:
    if tau <= 0:
        return Decimal(0)
    done = Decimal(0)
    start = Decimal(0)
    for amount, n in zip(amounts, lengths, strict=True):
        end = start + n
        if tau < end:
            return done + amount * (tau - start) / Decimal(n)
        done += amount
        start = end
    return done


def component_months(part: Component, in_service: date, convention: Convention, fiscal_year_start_month: int = 1,
                     units_by_period: Mapping[str, Decimal] | None = None) -> list[tuple[str, Decimal]]:
    """(period, depreciation) for every month from the in-service month to the last charge, in cents."""
    depreciable = part.cost - part.residual
    if part.method == "units_of_production":
        return units_schedule(part.cost, part.residual, part.total_units or Decimal(0), units_by_period or {},
                              in_service)
    amounts = annual_amounts(part.cost, part.residual, part.useful_life_months, part.method, factor=part.factor,
                             switch_to_sl=part.switch_to_sl)
    lengths = _year_lengths(part.useful_life_months)
    t0 = convention_start(in_service, convention, fiscal_year_start_month)
    life = Decimal(part.useful_life_months)
    mi0 = _month_index(in_service)
    out: list[tuple[str, Decimal]] = []
    previous = Decimal("0.00")
    m = 0
    while True:
        tau = Decimal(m + 1) - t0
        cum = depreciable if tau >= life else _c(_cumulative(amounts, lengths, tau))
        out.append((_period(mi0 + m), cum - previous))
        previous = cum
        if tau >= life:
            return out
        m += 1


def units_schedule(cost: Decimal, residual: Decimal, total_units: Decimal, units_by_period: Mapping[str, Decimal],
                   in_service: date) -> list[tuple[str, Decimal]]:
    """Units of production: cumulative units over the estimated total, capped once the total is reached."""
    if total_units <= 0:
        raise InputError("units of production needs a positive estimated total of units")
    if any(u < 0 for u in units_by_period.values()):
        raise InputError("units must be non-negative")
    first = _month_index(in_service)
    if any(_period_index(p) < first for p in units_by_period):
        raise InputError("units recorded before the asset was in service")
    depreciable = cost - residual
    out: list[tuple[str, Decimal]] = []
    used = Decimal(0)
    previous = Decimal("0.00")
    for period in sorted(units_by_period):
        used += units_by_period[period]
        cum = depreciable if used >= total_units else _c(depreciable * used / total_units)
        out.append((period, cum - previous))
        previous = cum
        if used >= total_units:
            break
    return out


def schedule(asset: Asset, *, fiscal_year_start_month: int = 1, first_period: str | None = None,
             last_period: str | None = None, units_by_period: Mapping[str, Mapping[str, Decimal]] | None = None
             ) -> pl.DataFrame:
    """Monthly schedule per component: depreciation, accumulated depreciation and book value at month end.

    `units_by_period` maps component name → {period: units} for units-of-production components.
    """
    rows: list[dict[str, object]] = []
    for part in asset.parts():
        units = (units_by_period or {}).get(part.name)
        acc = Decimal("0.00")
        for period, amount in component_months(part, asset.in_service, asset.convention, fiscal_year_start_month,
                                               units):
            acc += amount
            if (first_period and period < first_period) or (last_period and period > last_period):
                continue
            rows.append({"asset_id": asset.asset_id, "component": part.name, "cost_center_id": asset.cost_center_id,
                         "period": period, "depreciation": amount, "accumulated": acc,
                         "book_value": part.cost - acc})
    return pl.DataFrame(rows, schema=SCHEDULE_SCHEMA, orient="row")


def fiscal_year_totals(sched: pl.DataFrame, fiscal_year_start_month: int = 1) -> dict[int, Decimal]:
    """Depreciation per fiscal year: what the fixed-asset policy's annual table shows."""
    out: dict[int, Decimal] = {}
    for period, amount in sched.select("period", "depreciation").iter_rows():
        fy = fiscal_year_of(period, fiscal_year_start_month)
        out[fy] = out.get(fy, Decimal(0)) + amount
    return dict(sorted(out.items()))


def book_value(asset: Asset, as_of: date, *, fiscal_year_start_month: int = 1,
               units_by_period: Mapping[str, Mapping[str, Decimal]] | None = None) -> Decimal:
    """Cost less depreciation of every month that has ended by `as_of` (a month is posted at its last day)."""
    month_end_passed = _month_index(as_of) - (0 if _is_month_end(as_of) else 1)
    sched = schedule(asset, fiscal_year_start_month=fiscal_year_start_month, last_period=_period(month_end_passed),
                     units_by_period=units_by_period)
    return asset.cost - sum(sched["depreciation"].to_list(), Decimal(0))


def _is_month_end(d: date) -> bool:
    return date.fromordinal(d.toordinal() + 1).month != d.month


# Capex / opex -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CapexPolicy:
    """Capitalise purchases at or above the threshold with a life beyond a year; expense the rest when bought."""

    threshold: Decimal = Decimal(5000)
    min_life_months: int = 13
    expensed_classes: frozenset[str] = frozenset({"licence"})


def classify(cost: Decimal, useful_life_months: int | None, asset_class: str, policy: CapexPolicy) -> str:
    """'capex' or 'opex', by the finance policy above."""
    if asset_class in policy.expensed_classes:
        return "opex"
    if cost >= policy.threshold and (useful_life_months or 0) >= policy.min_life_months:
        return "capex"
    return "opex"


@dataclass(frozen=True)
class RegisterItem:
    """An asset as it sits in the register, with the fields capex/opex classification needs."""

    asset: Asset
    asset_class: str


def capex_opex_split(items: Iterable[RegisterItem], period: str, policy: CapexPolicy | None = None,
                     fiscal_year_start_month: int = 1) -> pl.DataFrame:
    """Per cost centre for one period: opex expensed (whole cost, month of purchase), capex depreciation charged,
    and capex additions (balance sheet, not P&L) — the split finance asks for before it accepts a charge."""
    pol = policy or CapexPolicy()
    acc: dict[str | None, dict[str, Decimal]] = {}
    for item in items:
        a = item.asset
        kind = classify(a.cost, a.useful_life_months, item.asset_class, pol)
        slot = acc.setdefault(a.cost_center_id, {"opex_expensed": Decimal(0), "capex_depreciation": Decimal(0),
                                                 "capex_additions": Decimal(0)})
        bought = _period(_month_index(a.in_service))
        if kind == "opex":
            if bought == period:
                slot["opex_expensed"] += a.cost
            continue
        if bought == period:
            slot["capex_additions"] += a.cost
        if a.method == "units_of_production" or any(c.method == "units_of_production" for c in a.components):
            continue
        sched = schedule(a, fiscal_year_start_month=fiscal_year_start_month, first_period=period, last_period=period)
        slot["capex_depreciation"] += sum(sched["depreciation"].to_list(), Decimal(0))
    rows = [{"period": period, "cost_center_id": cc, **{k: _c(v) for k, v in vals.items()}}
            for cc, vals in sorted(acc.items(), key=lambda kv: str(kv[0]))]
    return pl.DataFrame(rows, schema={"period": pl.String, "cost_center_id": pl.String,
                                      "opex_expensed": pl.Decimal(18, 2), "capex_depreciation": pl.Decimal(18, 2),
                                      "capex_additions": pl.Decimal(18, 2)}, orient="row")


# Journal -------------------------------------------------------------------------------------------------------

JOURNAL_SCHEMA = pl.Schema({
    "period": pl.String(),
    "account": pl.String(),
    "cost_centre": pl.String(),
    "debit": pl.Decimal(18, 2),
    "credit": pl.Decimal(18, 2),
    "description": pl.String(),
})


def journal(sched: pl.DataFrame, *, expense_account: str, accumulated_account: str,
            unassigned_cost_centre: str = "UNASSIGNED") -> pl.DataFrame:
    """Rows finance can post: per period and cost centre, Dr depreciation expense / Cr accumulated depreciation.

    The accounts come from the GL mapping's `depreciation` row (engine/outputs/journals/mapping.py; the ERP layouts
    are built by engine/outputs/journals/). Each period balances (debits = credits); zero months are left out.
    """
    agg = (
        sched.with_columns(pl.col("cost_center_id").fill_null(unassigned_cost_centre))
        .group_by("period", "cost_center_id")
        .agg(pl.col("depreciation").sum())
        .filter(pl.col("depreciation") != 0)
        .sort("period", "cost_center_id")
    )
    rows: list[dict[str, object]] = []
    zero = Decimal("0.00")
    for period, cc, amount in agg.iter_rows():
        rows.append({"period": period, "account": expense_account, "cost_centre": cc, "debit": amount,
                     "credit": zero, "description": f"Depreciation {period}"})
        rows.append({"period": period, "account": accumulated_account, "cost_centre": cc, "debit": zero,
                     "credit": amount, "description": f"Accumulated depreciation {period}"})
    return pl.DataFrame(rows, schema=JOURNAL_SCHEMA, orient="row")


def journal_csv(journal_rows: pl.DataFrame) -> bytes:
    """The journal as CSV with text cells neutralised against formula injection (cost centre names are data)."""
    return to_csv_bytes(journal_rows)


# The register in the store --------------------------------------------------------------------------------------

_METHODS: dict[str, Method] = {
    "straight_line": "straight_line", "sl": "straight_line", "ddb": "ddb", "double_declining": "ddb",
    "declining_balance": "declining_balance", "syd": "syd", "units": "units_of_production",
    "units_of_production": "units_of_production",
}
_CONVENTIONS: set[str] = {"full_month", "mid_month", "half_year", "mid_quarter"}


def register_from_store(con: duckdb.DuckDBPyConnection) -> tuple[list[RegisterItem], list[tuple[str, str]]]:
    """Assets with what depreciation needs, and (asset_id, reason) for each one that cannot be scheduled."""
    rows = con.sql(
        "SELECT asset_id, class, cost_center_id, purchase_date, cost, coalesce(residual, 0), useful_life_months,"
        " coalesce(depreciation_method, 'straight_line'), coalesce(depreciation_convention, 'full_month')"
        " FROM asset ORDER BY asset_id"
    ).fetchall()
    items: list[RegisterItem] = []
    skipped: list[tuple[str, str]] = []
    for asset_id, cls, cc, bought, cost, residual, life, method, conv in rows:
        if bought is None or cost is None or not life:
            skipped.append((asset_id, "missing purchase date, cost or useful life"))
            continue
        m = _METHODS.get(str(method).lower())
        if m is None or m == "units_of_production" or conv not in _CONVENTIONS:
            skipped.append((asset_id, f"method {method!r} / convention {conv!r} needs usage or is unknown"))
            continue
        if residual > cost:
            skipped.append((asset_id, "residual above cost"))
            continue
        items.append(RegisterItem(Asset(asset_id, bought, Decimal(cost), int(life), Decimal(residual), m, conv,
                                        cc), str(cls)))
    return items, skipped


def depreciation_for_period(con: duckdb.DuckDBPyConnection, period: str, *, fiscal_year_start_month: int = 1,
                            policy: CapexPolicy | None = None) -> pl.DataFrame:
    """Capitalised assets' depreciation charged in `period`, per asset: the on-prem cost basis for allocation."""
    items, _ = register_from_store(con)
    pol = policy or CapexPolicy()
    frames = [schedule(i.asset, fiscal_year_start_month=fiscal_year_start_month, first_period=period,
                       last_period=period)
              for i in items
              if classify(i.asset.cost, i.asset.useful_life_months, i.asset_class, pol) == "capex"]
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else pl.DataFrame(schema=SCHEDULE_SCHEMA)
