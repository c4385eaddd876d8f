"""Rate cards: unit prices per service-catalogue item and support tier, and over/under-recovery against cost.

A rate card gives consumers a price they can plan with (a VM-month, a GB of backup, a gold-tier app). The price is
fixed for the period, the cost is not, so IT over- or under-recovers; tracking that per item is how a rate card is
kept honest and re-set for the next period.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.costmodels.pricing import to_cents
from engine.errors import InputError, NotFound
from engine.store import audit, transaction

ANY_TIER = "any"
MONEY = pl.Decimal(18, 2)
PRICE = pl.Decimal(18, 6)


class RateCardItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    item: str = Field(min_length=1)
    tier: str = ANY_TIER
    unit: str = Field(min_length=1)
    unit_price: Decimal = Field(ge=0)


class RateCard(BaseModel):
    """One version of a named card; a tier-specific price wins over the item's 'any' price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    effective_from: str = "1900-01"
    items: list[RateCardItem] = Field(min_length=1)
    version: int | None = None

    @model_validator(mode="after")
    def _unique(self) -> RateCard:
        keys = [(i.item, i.tier) for i in self.items]
        if len(keys) != len(set(keys)):
            raise InputError("each (item, tier) may be priced once per card")
        return self

    def price(self, item: str, tier: str | None = None) -> RateCardItem:
        by_key = {(i.item, i.tier): i for i in self.items}
        found = by_key.get((item, tier or ANY_TIER)) or by_key.get((item, ANY_TIER))
        if found is None:
            raise NotFound(f"rate card {self.name!r} has no price for {item!r} (tier {tier or ANY_TIER!r})")
        return found


def price_usage(usage: pl.DataFrame, card: RateCard) -> pl.DataFrame:
    """Price each usage line (target_id, item, quantity[, tier]) at the card's rate, each line rounded to the cent.

    An item the card does not price is an error, not a zero: a silent zero would look like free service.
    """
    rows = []
    for r in usage.iter_rows(named=True):
        rate = card.price(r["item"], r.get("tier"))
        qty = Decimal(str(r["quantity"]))
        rows.append({"target_id": r["target_id"], "item": r["item"], "tier": rate.tier, "unit": rate.unit,
                     "quantity": qty, "unit_price": rate.unit_price, "charge": to_cents(qty * rate.unit_price)})
    return pl.DataFrame(rows, schema={"target_id": pl.String, "item": pl.String, "tier": pl.String,
                                      "unit": pl.String, "quantity": pl.Decimal(18, 4), "unit_price": PRICE,
                                      "charge": MONEY}, orient="row")


def charges_by_target(priced: pl.DataFrame) -> pl.DataFrame:
    """(target_id, charge): the input a rate-card scenario needs (engine.costmodels.scenarios.apply_scenario)."""
    return priced.group_by("target_id").agg(pl.col("charge").sum()).sort("target_id")


def recovery(priced: pl.DataFrame, actual_cost: pl.DataFrame) -> pl.DataFrame:
    """Per catalogue item: recovered (charged), actual cost, over(+)/under(−) recovery and the recovery rate."""
    rec = priced.group_by("item").agg(pl.col("charge").sum().alias("recovered"))
    act = actual_cost.select("item", pl.col("actual_cost").cast(MONEY))
    out = rec.join(act, on="item", how="full", coalesce=True).with_columns(
        pl.col("recovered").fill_null(Decimal(0)).cast(MONEY), pl.col("actual_cost").fill_null(Decimal(0)).cast(MONEY))
    out = out.with_columns((pl.col("recovered") - pl.col("actual_cost")).alias("over_under"))
    out = out.with_columns(
        pl.when(pl.col("actual_cost") != 0)
        .then(pl.col("recovered").cast(pl.Float64) / pl.col("actual_cost").cast(pl.Float64))
        .otherwise(None).alias("recovery_rate"),
        pl.when(pl.col("over_under") > 0).then(pl.lit("over"))
        .when(pl.col("over_under") < 0).then(pl.lit("under")).otherwise(pl.lit("exact")).alias("status"),
    )
    return out.sort("item")


def cost_based_card(name: str, effective_from: str, actual_cost: pl.DataFrame, expected: pl.DataFrame, *,
                    markup_pct: Decimal = Decimal(0)) -> RateCard:
    """Set next period's prices at cost per expected unit (+ markup): item, actual_cost / item, unit, quantity."""
    qty = {r["item"]: (r["unit"], Decimal(str(r["quantity"]))) for r in expected.iter_rows(named=True)}
    items = []
    for item, cost in actual_cost.select("item", "actual_cost").iter_rows():
        if item not in qty or qty[item][1] <= 0:
            raise InputError(f"no positive expected quantity for {item!r}")
        unit, q = qty[item]
        price = (Decimal(cost) / q * (1 + markup_pct / 100)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
        items.append(RateCardItem(item=item, unit=unit, unit_price=price))
    return RateCard(name=name, effective_from=effective_from, items=items)


def save_rate_card(con: duckdb.DuckDBPyConnection, card: RateCard, author: str) -> RateCard:
    """Store as the next version of the card's name; prices of earlier versions stay for re-derivation."""
    with transaction(con):
        nxt = int(con.sql("SELECT coalesce(max(version), 0) + 1 FROM rate_card WHERE card = ?",
                          params=[card.name]).fetchall()[0][0])
        for i in card.items:
            con.execute("INSERT INTO rate_card (card, version, item, tier, unit, unit_price, effective_from, author)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [card.name, nxt, i.item, i.tier, i.unit, i.unit_price, card.effective_from, author])
        audit.record(con, author, "rate_card.save", "rate_card", f"{card.name}@{nxt}",
                     json.loads(card.model_dump_json(exclude={"version"})))
    return card.model_copy(update={"version": nxt})


def load_rate_card(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> RateCard:
    """A stored version (latest by default)."""
    if version is None:
        row = con.sql("SELECT max(version) FROM rate_card WHERE card = ?", params=[name]).fetchall()[0][0]
        if row is None:
            raise NotFound(f"no rate card {name!r}")
        version = int(row)
    rows = con.sql("SELECT item, tier, unit, unit_price, effective_from FROM rate_card WHERE card = ? AND version = ?"
                   " ORDER BY item, tier", params=[name, version]).fetchall()
    if not rows:
        raise NotFound(f"no rate card {name!r} version {version}")
    return RateCard(name=name, version=version, effective_from=rows[0][4],
                    items=[RateCardItem(item=i, tier=t, unit=u, unit_price=p) for i, t, u, p, _ in rows])


def usage_with_app_tier(con: duckdb.DuckDBPyConnection, usage: pl.DataFrame) -> pl.DataFrame:
    """Fill `tier` from the application's support tier (application.tier) when usage is per application."""
    tiers = con.sql("SELECT app_id AS target_id, coalesce(tier, 'any') AS tier FROM application").pl()
    base = usage.drop("tier", strict=False)
    joined = base.join(tiers, on="target_id", how="left", maintain_order="left")
    return joined.with_columns(pl.col("tier").fill_null(ANY_TIER))
