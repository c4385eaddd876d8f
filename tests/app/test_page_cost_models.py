"""The cost-models page over the demo store: depreciation per pool agrees with what month close allocates, a rate
card previews the charge at a quantity and saves a new version, the commitment month follows the policy in force,
the transition plan reaches full chargeback, and readers get no editing controls."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine import store
from engine.costmodels import ratecard
from engine.costmodels.depreciation import depreciation_for_period
from tests.app.conftest import page_as
from ui.formats import money

pytestmark = pytest.mark.usefixtures("app_env")


def _metric(at, label: str) -> str:  # noqa: ANN001
    return next(m.value for m in at.metric if m.label == label)


def test_depreciation_matches_the_allocation_input(app_db: Path) -> None:
    at = page_as("cost_models", "fiona").run()
    assert not at.exception and not at.error
    period = at.selectbox(key="cm_dep_period").value
    con = store.connect(app_db)
    try:
        month_close_input = sum(depreciation_for_period(con, period)["depreciation"].to_list(), Decimal(0))
        cost = con.execute("SELECT sum(cost) FROM asset WHERE class = 'server' AND cost >= 5000"
                           " AND useful_life_months >= 13 AND strftime(purchase_date, '%Y-%m') <= ?",
                           [period]).fetchall()[0][0]
    finally:
        con.close()
    assert month_close_input > 0
    assert _metric(at, "Depreciation this month") == money(month_close_input)
    at.selectbox(key="cm_dep_pool").select("server").run()
    pools = at.dataframe[0].value
    assert Decimal(str(pools.loc[pools["pool"] == "server", "cost"].iloc[0])) == cost


def test_rate_card_preview_and_new_version(app_db: Path) -> None:
    con = store.connect(app_db)
    try:
        ratecard.save_rate_card(con, ratecard.RateCard(name="Hosting", effective_from="2026-10", items=[
            ratecard.RateCardItem(item="vm", tier="gold", unit="VM-month", unit_price=Decimal("120.50")),
            ratecard.RateCardItem(item="vm", unit="VM-month", unit_price=Decimal("80"))]), "fiona")
    finally:
        con.close()
    at = page_as("cost_models", "fiona").run()
    at.selectbox(key="cm_card").select("Hosting").run()
    at.selectbox(key="cm_prev_tier").select("gold").run()
    at.number_input(key="cm_prev_qty").set_value(7.0).run()
    assert _metric(at, "Charge for 7 VM-month") == money(Decimal("843.50"))       # 7 × 120.50
    at.button(key="cm_card_save").click().run()
    assert not at.exception and not at.error
    con = store.connect(app_db)
    try:
        assert ratecard.load_rate_card(con, "Hosting").version == 2
        assert con.execute("SELECT count(*) FROM audit_event WHERE action = 'rate_card.save'"
                           " AND entity_id = 'Hosting@2'").fetchall() == [(1,)]
    finally:
        con.close()


def test_commitments_follow_the_policy_in_force(app_db: Path) -> None:
    at = page_as("cost_models", "fiona").run()
    period = at.selectbox(key="cm_commit_period").value
    con = store.connect(app_db)
    try:
        used, unused = con.execute(
            "SELECT sum(u), sum(n) FROM (SELECT commitment_discount_id,"
            " round(sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Used'), 2) AS u,"
            " round(coalesce(sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Unused'), 0)"
            "   + coalesce(sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Used'), 0), 2)"
            "   - round(coalesce(sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Used'), 0), 2) AS n"
            " FROM cost_line WHERE billing_period = ? AND charge_category = 'Usage'"
            " AND commitment_discount_status IN ('Used', 'Unused') GROUP BY 1)", [period]).fetchall()[0]
    finally:
        con.close()
    assert any("the default; no policy saved yet" in c.value for c in at.caption)
    assert _metric(at, "Charged to consumers") == money(used)           # keep central: used at effective cost
    assert _metric(at, "Unused, carried centrally") == money(unused)
    at.selectbox(key="cm_policy_mode").select("spread_pro_rata")
    at.text_input(key="cm_policy_reason").input("teams asked to carry the reservations they drive")
    next(b for b in at.button if b.label == "Save policy version").click().run()
    assert not at.exception and not at.error
    assert any("spread pro rata (version 1" in c.value for c in at.caption)
    assert _metric(at, "Unused, carried centrally") == money(0)
    assert _metric(at, "Charged to consumers") == money(used + unused)


def test_transition_plan_reaches_full_chargeback_and_saves() -> None:
    at = page_as("cost_models", "fiona").run()
    assert at.text_input(key="cm_plan_steps").value == "0, 50, 100"
    start = at.text_input(key="cm_plan_start").value
    y, m = int(start[:4]), int(start[5:])
    last = f"{y + (m + 7) // 12:04d}-{(m + 7) % 12 + 1:02d}"                   # 9 months shown
    assert any(f"By {last}: 100.0% of the run rate is invoiced" in c.value.replace("\\", "") for c in at.caption)
    at.text_input(key="cm_plan_steps").input("0, 25").run()
    assert any(f"By {last}: 25.0% of the run rate is invoiced" in c.value.replace("\\", "") for c in at.caption)
    at.button(key="cm_plan_save").click().run()
    assert not at.exception and not at.error


@pytest.mark.parametrize("username", ["audrey", "eve"])
def test_readers_see_figures_without_editing(username: str) -> None:
    at = page_as("cost_models", username).run()
    assert not at.exception and not at.error and at.title[0].value == "Cost models"
    assert any("Read only" in c.value for c in at.caption)
    labels = {b.label for b in at.button}
    assert not labels & {"Save rate card version", "Save policy version", "Save transition plan", "Record disposal"}
