"""The service catalogue: items with support tiers, SLAs and unit rates that feed the rate card, and what a tier
costs an application owner.

An entry prices one catalogue item at one support tier (`gold`, `silver`, `bronze`, or `any` when the tier does
not change the price) with the SLA that tier promises. Items marked *per application* are charged once per
application and month at the application's own tier (`application.tier`), so an owner can see, for each of their
applications, the monthly cost at every tier and the difference from the tier they are on. The catalogue is
versioned (every save is a new version, audited); publishing turns a version into the next version of a rate card
(`ratecard.save_rate_card`), which is what statements and rate-card scenarios price with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.access import policy
from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.costmodels import ratecard
from engine.costmodels.pricing import to_cents
from engine.errors import InputError, NotFound, invalid
from engine.store import audit, transaction
from engine.store.sql import query

MONEY = pl.Decimal(18, 2)
PRICE = pl.Decimal(18, 6)


class Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    item: str = Field(min_length=1)
    name: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    tier: str = Field(default=ratecard.ANY_TIER, min_length=1)
    sla: str = Field(min_length=1)
    unit_price: Decimal = Field(ge=0)
    per_application: bool = False


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: list[Entry] = Field(min_length=1)
    version: int | None = None

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        keys = [(e.item, e.tier) for e in self.entries]
        if len(keys) != len(set(keys)):
            raise InputError("each item may be priced once per support tier")
        return self

    def tiers(self) -> list[str]:
        return sorted({e.tier for e in self.entries if e.tier != ratecard.ANY_TIER})

    def as_rate_card(self, name: str, effective_from: str) -> ratecard.RateCard:
        return ratecard.RateCard(name=name, effective_from=effective_from, items=[
            ratecard.RateCardItem(item=e.item, tier=e.tier, unit=e.unit, unit_price=e.unit_price)
            for e in self.entries])


# A starting point finance edits: application support per tier (the demo's SLAs) and two unit-priced items.
STARTER: tuple[Entry, ...] = (
    Entry(item="app_support", name="Application support", unit="application-month", tier="gold", sla="99.95%",
          unit_price=Decimal("1200"), per_application=True),
    Entry(item="app_support", name="Application support", unit="application-month", tier="silver", sla="99.9%",
          unit_price=Decimal("600"), per_application=True),
    Entry(item="app_support", name="Application support", unit="application-month", tier="bronze", sla="99.5%",
          unit_price=Decimal("250"), per_application=True),
    Entry(item="backup_gb", name="Backup storage", unit="GB-month", tier="any", sla="RPO 24 h",
          unit_price=Decimal("0.045")),
    Entry(item="vm_month", name="Managed virtual machine", unit="VM-month", tier="any", sla="99.9%",
          unit_price=Decimal("85")),
)


def catalogue_from(entries: Sequence[Mapping[str, object]]) -> Catalogue:
    try:
        return Catalogue.model_validate({"entries": list(entries)})
    except ValidationError as exc:
        raise invalid("service catalogue", exc) from None


def save_catalogue(con: duckdb.DuckDBPyConnection, user: User, catalogue: Catalogue) -> Catalogue:
    """Store as the next version (finops/admin); audited with every entry."""
    policy.require(user, "edit_cost_models", "edit the service catalogue")
    with transaction(con):
        nxt = int(con.sql("SELECT coalesce(max(version), 0) + 1 FROM service_catalogue").fetchall()[0][0])
        for e in catalogue.entries:
            con.execute("INSERT INTO service_catalogue (version, item, name, unit, tier, sla, unit_price,"
                        " per_application, author) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [nxt, e.item, e.name, e.unit, e.tier, e.sla, e.unit_price, e.per_application, user.username])
        audit.record(con, user.username, "catalogue.save", "service_catalogue", str(nxt),
                     {"entries": [{**e.model_dump(mode="json")} for e in catalogue.entries]})
    return catalogue.model_copy(update={"version": nxt})


def load_catalogue(con: duckdb.DuckDBPyConnection, version: int | None = None) -> Catalogue:
    """A stored version (latest by default); NotFound when none has been saved."""
    if version is None:
        v = con.sql("SELECT max(version) FROM service_catalogue").fetchall()[0][0]
        if v is None:
            raise NotFound("no service catalogue has been saved yet")
        version = int(v)
    rows = con.sql("SELECT item, name, unit, tier, sla, unit_price, per_application FROM service_catalogue"
                   " WHERE version = ? ORDER BY item, tier", params=[version]).fetchall()
    if not rows:
        raise NotFound(f"no service catalogue version {version}")
    return Catalogue(version=version, entries=[
        Entry(item=i, name=n, unit=u, tier=t, sla=s, unit_price=Decimal(p), per_application=bool(a))
        for i, n, u, t, s, p, a in rows])


def publish(con: duckdb.DuckDBPyConnection, user: User, catalogue: Catalogue, card_name: str,
            effective_from: str) -> ratecard.RateCard:
    """The catalogue's unit rates as the next version of rate card `card_name` (finops/admin)."""
    policy.require(user, "edit_cost_models", "publish the catalogue to a rate card")
    if not card_name.strip():
        raise InputError("name the rate card to publish into")
    card = card_from(card_name, effective_from, [i.model_dump() for i in catalogue.as_rate_card(
        card_name, effective_from).items])
    return ratecard.save_rate_card(con, card, user.username)


def entries_frame(catalogue: Catalogue) -> pl.DataFrame:
    return pl.DataFrame([e.model_dump() for e in catalogue.entries], schema={
        "item": pl.String, "name": pl.String, "unit": pl.String, "tier": pl.String, "sla": pl.String,
        "unit_price": PRICE, "per_application": pl.Boolean}, orient="row")


def _price(catalogue: Catalogue, item: str, tier: str) -> Decimal | None:
    by = {(e.item, e.tier): e.unit_price for e in catalogue.entries}
    return by.get((item, tier), by.get((item, ratecard.ANY_TIER)))


TIER_COST_SCHEMA = pl.Schema({
    "app_id": pl.String(), "application": pl.String(), "cost_center_id": pl.String(), "current_tier": pl.String(),
    "tier": pl.String(), "sla": pl.String(), "monthly_cost": MONEY, "change_vs_current": MONEY,
    "is_current": pl.Boolean(),
})


def tier_costs(con: duckdb.DuckDBPyConnection, user: User | None, catalogue: Catalogue) -> pl.DataFrame:
    """For each application the user may see (app owners: their cost centres, filtered in SQL) and each support
    tier: the monthly cost of the per-application items at that tier, its SLA and the change against the current
    tier. A tier that leaves an item unpriced is left out (a silent zero would read as free support)."""
    pred, params = cost_center_filter(user)
    apps = con.execute(f"SELECT app_id, name, cost_center_id, coalesce(tier, '{ratecard.ANY_TIER}') FROM application"
                       f" WHERE {pred} ORDER BY app_id", params).fetchall()
    items = sorted({e.item for e in catalogue.entries if e.per_application})
    slas = {e.tier: e.sla for e in catalogue.entries if e.per_application}
    rows: list[dict[str, object]] = []
    for app_id, name, cc, current in apps:
        costs: dict[str, Decimal] = {}
        for tier in catalogue.tiers():
            prices = [_price(catalogue, i, tier) for i in items]
            if items and all(p is not None for p in prices):
                costs[tier] = to_cents(sum((p for p in prices if p is not None), Decimal(0)))
        base = costs.get(current)
        for tier, cost in costs.items():
            rows.append({"app_id": app_id, "application": name, "cost_center_id": cc, "current_tier": current,
                         "tier": tier, "sla": slas.get(tier, ""), "monthly_cost": cost,
                         "change_vs_current": None if base is None else cost - base, "is_current": tier == current})
    return pl.DataFrame(rows, schema=TIER_COST_SCHEMA, orient="row")


def preview_charge(card: ratecard.RateCard, item: str, tier: str | None, quantity: Decimal) -> Decimal:
    """What `quantity` units of `item` at `tier` cost on `card` (rounded half up to the cent)."""
    if quantity < 0:
        raise InputError("quantity cannot be negative")
    return to_cents(quantity * card.price(item, tier).unit_price)


# Rate cards as the cost-model screen edits them ---------------------------------------------------------------

def rate_card_versions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every card name with its latest version, its start month and who saved it."""
    return query(con, "SELECT card, max(version) AS latest_version, arg_max(effective_from, version) AS effective_from,"
                      " arg_max(author, version) AS author, max(created_at) AS saved_at FROM rate_card"
                      " GROUP BY card ORDER BY card")


def card_from(name: str, effective_from: str, items: Sequence[Mapping[str, object]]) -> ratecard.RateCard:
    """A rate card from edited rows (item, tier, unit, unit_price); blank rows are dropped, a bad one is named."""
    rows = [{k: v for k, v in r.items() if k in ("item", "tier", "unit", "unit_price") and v not in (None, "")}
            for r in items]
    rows = [r for r in rows if r]
    for r in rows:
        r.setdefault("tier", ratecard.ANY_TIER)
    if len(effective_from) != 7 or effective_from[4] != "-" or not (effective_from[:4]
                                                                   + effective_from[5:]).isdigit():
        raise InputError(f"effective from must be YYYY-MM, not {effective_from!r}")
    try:
        return ratecard.RateCard.model_validate({"name": name, "effective_from": effective_from, "items": rows})
    except ValidationError as exc:
        raise invalid(f"rate card {name!r}", exc) from None


def save_card(con: duckdb.DuckDBPyConnection, user: User, card: ratecard.RateCard) -> ratecard.RateCard:
    """Save the next version of a rate card (finops/admin); `ratecard.save_rate_card` audits it."""
    policy.require(user, "edit_cost_models", "edit a rate card")
    return ratecard.save_rate_card(con, card, user.username)


def card_frame(card: ratecard.RateCard) -> pl.DataFrame:
    return pl.DataFrame([i.model_dump() for i in card.items], schema={
        "item": pl.String, "tier": pl.String, "unit": pl.String, "unit_price": PRICE}, orient="row")
