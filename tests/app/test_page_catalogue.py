"""The service catalogue page: finops publishes the catalogue into a rate card; an app owner sees only their own
applications, with what their current tiers cost per month and what another tier would cost."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine import store
from engine.access.users import get_user
from engine.costmodels import ratecard
from tests.app.conftest import page_as
from ui.formats import money

pytestmark = pytest.mark.usefixtures("app_env")
PRICE = {"gold": Decimal(1200), "silver": Decimal(600), "bronze": Decimal(250)}   # catalogue.STARTER


def test_publish_then_an_owner_sees_the_cost_of_their_tiers(app_db: Path) -> None:
    at = page_as("catalogue", "omar").run()                           # nothing published: nothing to edit either
    assert not at.exception and any("No service catalogue" in i.value for i in at.info)
    assert not any(b.label == "Save and publish to the rate card" for b in at.button)

    at = page_as("catalogue", "fiona").run()
    at.button(key="cat_save").click().run()
    assert not at.exception and not at.error
    con = store.connect(app_db)
    try:
        card = ratecard.load_rate_card(con, "IT services")
        omar = get_user(con, "omar")
        assert omar is not None and omar.cost_centers
        apps = con.execute("SELECT app_id, tier FROM application WHERE cost_center_id IN"
                           " (SELECT unnest(?::VARCHAR[])) ORDER BY app_id", [sorted(omar.cost_centers)]).fetchall()
    finally:
        con.close()
    assert card.price("app_support", "gold").unit_price == Decimal(1200)
    assert apps

    at = page_as("catalogue", "omar").run()
    assert not at.exception
    shown = [o.split(" · ")[0] for o in at.selectbox(key="cat_app").options]
    assert shown == [a for a, _ in apps]                                     # only their own applications
    total = sum((PRICE[t] for _, t in apps if t in PRICE), Decimal(0))
    assert next(m.value for m in at.metric if m.label == "Your applications' support per month") == money(total)
    _, tier = apps[0]
    by_label = {m.label: (m.value, m.delta) for m in at.metric}
    for other in PRICE:
        sla = {"gold": "99.95%", "silver": "99.9%", "bronze": "99.5%"}[other]
        label = f"{other} ({sla})" + (" · current" if other == tier else "")
        value, delta = next(v for k, v in by_label.items() if k.replace("\\", "") == label)
        assert value == money(PRICE[other])
        assert (delta or None) == (None if other == tier else money(PRICE[other] - PRICE[tier]))
