"""The service catalogue: versions, publishing to a rate card, the cost of a tier for an owner's applications."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import pytest

from engine.access.users import User
from engine.costmodels import catalogue, ratecard
from engine.errors import AccessDenied, InputError, NotFound

FINOPS = User("fiona", "Fiona", "finops", None)
OWNER = User("omar", "Omar", "app_owner", frozenset({"CC1"}))


def _org(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO org_unit (unit_id, name, kind, parent_id) VALUES ('BU1', 'Retail', 'business_unit',"
                " NULL), ('CC1', 'Stores', 'cost_center', 'BU1'), ('CC2', 'Pricing', 'cost_center', 'BU1')")
    con.execute("INSERT INTO application (app_id, name, cost_center_id, tier) VALUES"
                " ('A1', 'Tills', 'CC1', 'gold'), ('A2', 'Pricer', 'CC2', 'bronze'), ('A3', 'Kiosk', 'CC1', NULL)")


def test_saved_versions_and_publishing(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(NotFound):
        catalogue.load_catalogue(con)
    saved = catalogue.save_catalogue(con, FINOPS, catalogue.Catalogue(entries=list(catalogue.STARTER)))
    assert saved.version == 1 and catalogue.load_catalogue(con).tiers() == ["bronze", "gold", "silver"]
    card = catalogue.publish(con, FINOPS, saved, "IT services", "2026-11")
    assert card.version == 1
    stored = ratecard.load_rate_card(con, "IT services")
    assert stored.price("app_support", "silver").unit_price == D("600")
    assert stored.price("backup_gb", "gold").unit_price == D("0.045")        # an 'any' price serves every tier
    # preview: 1,000 GB-months × 0.045 = 45.00; 3 silver application-months × 600 = 1,800.00
    assert catalogue.preview_charge(stored, "backup_gb", None, D(1000)) == D("45.00")
    assert catalogue.preview_charge(stored, "app_support", "silver", D(3)) == D("1800.00")
    assert [r[0] for r in con.execute("SELECT action FROM audit_event ORDER BY seq").fetchall()] == [
        "catalogue.save", "rate_card.save"]
    with pytest.raises(AccessDenied):
        catalogue.save_catalogue(con, OWNER, saved)


def test_an_owner_sees_the_cost_of_each_tier_of_their_own_applications(con: duckdb.DuckDBPyConnection) -> None:
    _org(con)
    cat = catalogue.Catalogue(entries=list(catalogue.STARTER))
    rows = catalogue.tier_costs(con, OWNER, cat).select(
        "app_id", "tier", "sla", "monthly_cost", "change_vs_current", "is_current").rows()
    assert rows == [
        # A1 is gold (1,200.00 a month): silver saves 600.00, bronze 950.00
        ("A1", "bronze", "99.5%", D("250.00"), D("-950.00"), False),
        ("A1", "gold", "99.95%", D("1200.00"), D("0.00"), True),
        ("A1", "silver", "99.9%", D("600.00"), D("-600.00"), False),
        # A3 has no tier on record: prices are shown, the change cannot be
        ("A3", "bronze", "99.5%", D("250.00"), None, False),
        ("A3", "gold", "99.95%", D("1200.00"), None, False),
        ("A3", "silver", "99.9%", D("600.00"), None, False),
    ]                                                                   # A2 belongs to CC2: not the owner's
    assert catalogue.tier_costs(con, None, cat).is_empty()              # no user, no rows


def test_a_catalogue_prices_each_item_once_per_tier() -> None:
    e = catalogue.STARTER[0].model_dump()
    with pytest.raises(InputError, match="once per support tier"):
        catalogue.catalogue_from([e, e])
    with pytest.raises(InputError, match="unit_price"):
        catalogue.catalogue_from([{**e, "unit_price": "-1"}])
