"""Non-linear vendor pricing and the cent-exact pro-rata split of an invoice over consumers.

Vendors price tiers on the *total* quantity of an account, not per consumer; charging each business unit its own
tiered price would bill the organisation more than the invoice. So we price where the vendor prices, derive the
effective unit rate, and split the invoice pro rata to usage with the largest-remainder method so the parts add up
to the invoice to the cent.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal, TypeVar

import duckdb

from engine.errors import InputError, NotFound

CENT = Decimal("0.01")
K = TypeVar("K", bound=Hashable)


def to_cents(value: Decimal) -> Decimal:
    """Round half up to the cent: how a vendor states a line on an invoice."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def split_cents(total: Decimal, weights: Mapping[K, Decimal], *, order: Sequence[K] | None = None) -> dict[K, Decimal]:
    """Split `total` (rounded to cents first) in proportion to `weights`, largest remainder, exact to the cent.

    Ties on the remainder go to the key that comes first in `order` (default: sorted keys by their string form),
    so the same inputs always post the same cents. Negative totals (credits) split by their magnitude.
    """
    cents_total = int((to_cents(total) / CENT).to_integral_value())
    keys = list(order) if order is not None else sorted(weights, key=str)
    if set(keys) != set(weights):
        raise InputError("order must list exactly the keys of weights")
    if any(weights[k] < 0 for k in keys):
        raise InputError("weights must be non-negative")
    weight_sum = sum((weights[k] for k in keys), Decimal(0))
    if not keys:
        if cents_total:
            raise InputError("cannot split a non-zero total over no keys")
        return {}
    if weight_sum == 0:
        raise InputError("cannot split over weights that sum to zero")
    sign = -1 if cents_total < 0 else 1
    magnitude = abs(cents_total)
    raw = {k: Decimal(magnitude) * weights[k] / weight_sum for k in keys}
    floors = {k: int(raw[k].to_integral_value(rounding=ROUND_FLOOR)) for k in keys}
    left = magnitude - sum(floors.values())
    rank = sorted(range(len(keys)), key=lambda i: (-(raw[keys[i]] - floors[keys[i]]), i))
    for i in rank[:left]:
        floors[keys[i]] += 1
    return {k: Decimal(sign * floors[k]) * CENT for k in keys}


def round_to_total(values: Mapping[K, Decimal], *, order: Sequence[K] | None = None) -> dict[K, Decimal]:
    """Round signed amounts to cents so they add up to their rounded sum (largest remainder above the floor).

    Used where the parts are already computed (a subsidy per target) and only the cents must reconcile; ties go to
    the key first in `order` (default: sorted by string form).
    """
    keys = list(order) if order is not None else sorted(values, key=str)
    if set(keys) != set(values):
        raise InputError("order must list exactly the keys of values")
    target = int((to_cents(sum((values[k] for k in keys), Decimal(0))) / CENT).to_integral_value())
    raw = {k: values[k] / CENT for k in keys}
    floors = {k: int(raw[k].to_integral_value(rounding=ROUND_FLOOR)) for k in keys}
    left = target - sum(floors.values())
    rank = sorted(range(len(keys)), key=lambda i: (-(raw[keys[i]] - floors[keys[i]]), i))
    for i in rank[:left]:
        floors[keys[i]] += 1
    return {k: Decimal(floors[k]) * CENT for k in keys}


@dataclass(frozen=True)
class Tier:
    """A price band: `unit_price` for units up to and including `up_to` (cumulative); None means no upper bound."""

    up_to: Decimal | None
    unit_price: Decimal


def _check_tiers(tiers: Sequence[Tier]) -> None:
    if not tiers:
        raise InputError("at least one tier is required")
    bounds = [t.up_to for t in tiers[:-1]]
    if any(b is None for b in bounds):
        raise InputError("only the last tier may be unbounded")
    if any(b is not None and b <= 0 for b in bounds):
        raise InputError("tier bounds must be positive")
    numeric = [b for b in bounds if b is not None]
    if numeric != sorted(numeric) or len(set(numeric)) != len(numeric):
        raise InputError("tier bounds must be strictly increasing")
    if tiers[-1].up_to is not None and numeric and tiers[-1].up_to <= numeric[-1]:
        raise InputError("tier bounds must be strictly increasing")
    if any(t.unit_price < 0 for t in tiers):
        raise InputError("unit prices must be non-negative")


def graduated_cost(quantity: Decimal, tiers: Sequence[Tier]) -> Decimal:
    """Each unit is priced in the band it falls in (AWS S3 style): the cost never falls as quantity grows."""
    _check_tiers(tiers)
    if quantity < 0:
        raise InputError("quantity must be non-negative")
    cost = Decimal(0)
    lower = Decimal(0)
    for tier in tiers:
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        if upper > lower:
            cost += (upper - lower) * tier.unit_price
        if tier.up_to is None or quantity <= tier.up_to:
            return to_cents(cost)
        lower = tier.up_to
    raise InputError(f"quantity {quantity} exceeds the last tier bound {tiers[-1].up_to}")


def volume_cost(quantity: Decimal, tiers: Sequence[Tier]) -> Decimal:
    """All units are priced at the band the total reaches (all-units pricing): crossing a bound can lower the bill."""
    _check_tiers(tiers)
    if quantity < 0:
        raise InputError("quantity must be non-negative")
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            return to_cents(quantity * tier.unit_price)
    raise InputError(f"quantity {quantity} exceeds the last tier bound {tiers[-1].up_to}")


PricingMode = Literal["graduated", "volume"]


def tiered_cost(quantity: Decimal, tiers: Sequence[Tier], mode: PricingMode) -> Decimal:
    """Dispatch on the vendor's tier semantics, named as on the contract."""
    if mode == "graduated":
        return graduated_cost(quantity, tiers)
    if mode == "volume":
        return volume_cost(quantity, tiers)
    raise InputError(f"unknown pricing mode {mode!r}")


@dataclass(frozen=True)
class DiscountBand:
    """A spend-based volume discount: `pct` off the whole amount once gross spend reaches `min_spend`."""

    min_spend: Decimal
    pct: Decimal


def volume_discount(gross: Decimal, bands: Sequence[DiscountBand]) -> tuple[Decimal, Decimal]:
    """(discount, net) for the highest band reached; the discount is kept as its own figure for the statement."""
    reached = [b for b in bands if gross >= b.min_spend]
    pct = max((b.pct for b in reached), default=Decimal(0))
    if not Decimal(0) <= pct <= Decimal(100):
        raise InputError("discount percent must be within 0..100")
    discount = to_cents(gross * pct / Decimal(100))
    return discount, to_cents(gross) - discount


def saas_seat_cost(seats: int, tiers: Sequence[Tier], mode: PricingMode = "volume", *, minimum_seats: int = 0,
                   block_size: int = 1) -> tuple[int, Decimal]:
    """(billable seats, monthly cost): SaaS vendors bill at least the commitment and in whole seat packs."""
    if seats < 0 or minimum_seats < 0 or block_size < 1:
        raise InputError("seats and minimum must be non-negative, block size at least 1")
    billable = max(seats, minimum_seats)
    billable = int((Decimal(billable) / block_size).to_integral_value(rounding=ROUND_CEILING)) * block_size
    return billable, tiered_cost(Decimal(billable), tiers, mode)


@dataclass(frozen=True)
class ProRataResult:
    """The invoice as the vendor prices it and each consumer's cent-exact share of it."""

    quantity: Decimal
    invoice_total: Decimal
    effective_unit_rate: Decimal
    shares: dict[str, Decimal]


def price_and_split(usage: Mapping[str, Decimal], tiers: Sequence[Tier], mode: PricingMode) -> ProRataResult:
    """Price the pooled quantity once, then split the invoice pro rata to each consumer's quantity."""
    quantity = sum(usage.values(), Decimal(0))
    total = tiered_cost(quantity, tiers, mode)
    rate = total / quantity if quantity else Decimal(0)
    shares = split_cents(total, dict(usage)) if quantity else {k: Decimal("0.00") for k in usage}
    return ProRataResult(quantity, total, rate, shares)


SHELFWARE = "SHELFWARE"


@dataclass(frozen=True)
class SeatBill:
    """A SaaS product's monthly bill and who carries it: cost centres by assigned seats, unassigned seats as
    shelfware (a central line the licence owner must act on)."""

    product: str
    assigned: int
    billable: int
    cost: Decimal
    effective_seat_rate: Decimal
    shares: dict[str, Decimal]
    seats: dict[str, int]


def seat_charges(con: duckdb.DuckDBPyConnection, product: str, period: str, *, tiers: Sequence[Tier] | None = None,
                 mode: PricingMode = "volume", block_size: int = 1) -> SeatBill:
    """Price a SaaS product for `period` from the store (entitlements = committed minimum; seats assigned by the
    end of the period) and split the bill to cost centres pro rata to their seats, to the cent.

    Without `tiers` the entitlement's flat monthly unit cost applies. More seats assigned than entitled is a true-up:
    every assigned seat is billable.
    """
    ent = con.sql("SELECT entitlements, unit_cost_month FROM licence_entitlement WHERE product = ?",
                  params=[product]).fetchall()
    if not ent:
        raise NotFound(f"no entitlement for {product!r}")
    entitled, unit_cost = int(ent[0][0]), Decimal(ent[0][1])
    year, month = int(period[:4]), int(period[5:7])
    end = f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"
    rows = con.sql(
        "SELECT coalesce(cost_center_id, 'UNASSIGNED'), count(*) FROM licence_assignment"
        " WHERE product = ? AND (assigned_on IS NULL OR assigned_on < CAST(? AS DATE)) GROUP BY 1 ORDER BY 1",
        params=[product, end],
    ).fetchall()
    seats = {cc: int(n) for cc, n in rows}
    assigned = sum(seats.values())
    price_tiers = list(tiers) if tiers else [Tier(None, unit_cost)]
    billable, cost = saas_seat_cost(assigned, price_tiers, mode, minimum_seats=entitled, block_size=block_size)
    weights = {cc: Decimal(n) for cc, n in seats.items()}
    if billable > assigned:
        weights[SHELFWARE] = Decimal(billable - assigned)
    shares = split_cents(cost, weights) if weights else {}
    rate = cost / billable if billable else Decimal(0)
    return SeatBill(product, assigned, billable, cost, rate, shares, seats)
