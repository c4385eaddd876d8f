"""Rate-card pricing per catalogue item and support tier, and over/under-recovery against actual cost."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import polars as pl
import pytest

from engine.costmodels.ratecard import (
    RateCard,
    RateCardItem,
    charges_by_target,
    cost_based_card,
    load_rate_card,
    price_usage,
    recovery,
    save_rate_card,
    usage_with_app_tier,
)
from engine.store import audit

CARD = RateCard(name="it-catalogue", effective_from="2026-10", items=[
    RateCardItem(item="vm_month", unit="VM-month", unit_price=D("85.00")),
    RateCardItem(item="backup_gb", unit="GB-month", unit_price=D("0.045")),
    RateCardItem(item="app_support", tier="gold", unit="app-month", unit_price=D("1200")),
    RateCardItem(item="app_support", tier="silver", unit="app-month", unit_price=D("600")),
    RateCardItem(item="app_support", unit="app-month", unit_price=D("250")),
])
USAGE = pl.DataFrame({
    "target_id": ["APP1", "APP1", "APP2", "APP2", "APP3"],
    "item": ["vm_month", "backup_gb", "vm_month", "app_support", "app_support"],
    "tier": [None, None, None, "gold", "bronze"],
    "quantity": [12.0, 1234.5, 3.0, 1.0, 1.0],
})


def test_prices_by_item_and_tier() -> None:
    priced = price_usage(USAGE, CARD)
    # 1,234.5 GB × 0.045 = 55.5525 → 55.55; bronze has no price of its own, so the item's 'any' price applies.
    assert priced["charge"].to_list() == [D("1020.00"), D("55.55"), D("255.00"), D("1200.00"), D("250.00")]
    assert priced["tier"].to_list()[3:] == ["gold", "any"]
    assert charges_by_target(priced).rows() == [("APP1", D("1075.55")), ("APP2", D("1455.00")),
                                                ("APP3", D("250.00"))]
    with pytest.raises(KeyError):
        price_usage(pl.DataFrame({"target_id": ["X"], "item": ["gpu_hour"], "quantity": [1.0]}), CARD)


def test_over_and_under_recovery() -> None:
    priced = price_usage(USAGE, CARD)
    actual = pl.DataFrame({"item": ["vm_month", "backup_gb", "app_support", "network"],
                           "actual_cost": [D("1100.00"), D("40.00"), D("1450.00"), D("300.00")]})
    rec = {r["item"]: (r["recovered"], r["actual_cost"], r["over_under"], r["status"])
           for r in recovery(priced, actual).iter_rows(named=True)}
    assert rec == {
        "app_support": (D("1450.00"), D("1450.00"), D("0.00"), "exact"),
        "backup_gb": (D("55.55"), D("40.00"), D("15.55"), "over"),
        "network": (D("0.00"), D("300.00"), D("-300.00"), "under"),
        "vm_month": (D("1275.00"), D("1100.00"), D("175.00"), "over"),
    }


def test_cost_based_card_sets_next_prices() -> None:
    card = cost_based_card("next", "2026-11", pl.DataFrame({"item": ["vm_month"], "actual_cost": [D("1100")]}),
                           pl.DataFrame({"item": ["vm_month"], "unit": ["VM-month"], "quantity": [15.0]}),
                           markup_pct=D(2))
    # 1,100 / 15 = 73.3333… × 1.02 = 74.80
    assert card.price("vm_month").unit_price == D("74.800000")


def test_cards_are_versioned_and_tiers_come_from_the_app(con: duckdb.DuckDBPyConnection) -> None:
    assert save_rate_card(con, CARD, "finops").version == 1
    dearer = CARD.model_copy(update={"items": [*CARD.items[:1], RateCardItem(item="backup_gb", unit="GB-month",
                                                                             unit_price=D("0.05"))]})
    assert save_rate_card(con, dearer, "finops").version == 2
    assert load_rate_card(con, "it-catalogue").price("backup_gb").unit_price == D("0.05")
    assert load_rate_card(con, "it-catalogue", 1).price("app_support", "gold").unit_price == D(1200)
    with pytest.raises(LookupError):
        load_rate_card(con, "missing")
    assert audit.verify(con).ok
    con.execute("INSERT INTO application (app_id, name, cost_center_id, tier) VALUES ('APP2', 'Payroll', 'CC1',"
                " 'gold'), ('APP3', 'Wiki', 'CC1', 'silver')")
    tiered = usage_with_app_tier(con, pl.DataFrame({"target_id": ["APP2", "APP3", "APP9"],
                                                    "item": ["app_support"] * 3, "quantity": [1.0] * 3}))
    assert price_usage(tiered, CARD)["charge"].to_list() == [D("1200.00"), D("600.00"), D("250.00")]
