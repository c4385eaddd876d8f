"""The workshop moves every step: driver selects, per-pool subsidised shares, and a saved draft with the new driver."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from engine import store
from engine.allocation import whatif
from engine.insights import workshop
from engine.insights.workshop import WorkshopParams
from engine.rules import model
from tests.app.conftest import page_as
from ui.formats import money

pytestmark = pytest.mark.usefixtures("app_env")

PERIOD = "2026-10"  # the last demo month, the page's default period


def _metric(at, label: str) -> str:  # noqa: ANN001
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def _engine(db: Path, params: WorkshopParams) -> pl.DataFrame:
    con = store.connect(db)
    try:
        prep = whatif.prepare(con, PERIOD, "demo_default")
        return workshop.against(workshop.charges(prep, params), workshop.charges(prep, workshop.baseline_params(prep)))
    finally:
        con.close()


def _rules() -> model.RuleSet:
    return model.load(Path(__file__).resolve().parents[2] / "engine" / "rules" / "rulesets" / "demo_default.yaml")


def test_every_driver_step_has_a_select_of_the_periods_drivers(app_db: Path) -> None:
    at = page_as("workshop", "fiona").run()
    assert not at.exception
    network = at.selectbox(key="d_network")
    assert network.value == "bandwidth_gb:application"                       # the approved driver
    assert network.options[0] == "Bandwidth gb (per application)"           # the step's own kind first …
    assert {"Cpu hours (per application)", "Headcount (per cost centre)",    # … then the other kinds' drivers
            "Revenue (per cost centre)"} <= set(network.options)
    for step in ("security", "backup", "k8s_platform"):
        assert at.selectbox(key=f"d_{step}").value is not None
    assert at.multiselect(key="sub_pools").options == [s.name for s in _rules().steps]  # any pool can be subsidised


def test_the_unit_table_is_sent_only_when_asked_for(app_db: Path) -> None:
    at = page_as("workshop", "fiona").run()
    assert not at.exception and len(at.dataframe) == 0             # off: not sent on every move
    at.toggle(key="workshop_table_on").set_value(True).run()
    table = at.dataframe[0].value
    expected = _engine(app_db, WorkshopParams())                   # the approved drivers and weights
    assert sorted(Decimal(str(v)) for v in table["charge"]) == sorted(Decimal(v) for v in expected["charge"])
    assert set(table["delta"]) == {0}                              # nothing moved yet


def test_switching_network_to_headcount_moves_charges_not_the_total(app_db: Path) -> None:
    at = page_as("workshop", "fiona").run()
    at.toggle(key="workshop_table_on").set_value(True).run()
    total = _metric(at, "Total charged")
    before = at.dataframe[0].value.set_index("name")["charge"]
    at.selectbox(key="d_network").set_value("headcount:cost_center").run()
    assert not at.exception
    after = at.dataframe[0].value.set_index("name")["charge"]
    assert (before != after).any()
    assert _metric(at, "Total charged") == total                   # every cent still charged once
    expected = _engine(app_db, WorkshopParams(drivers={"network": ("headcount", "cost_center")}))
    shown = at.dataframe[0].value
    assert sorted(Decimal(str(v)) for v in shown["delta"]) == sorted(Decimal(v) for v in expected["delta"])


def test_a_pools_subsidised_share_is_carried_centrally(app_db: Path) -> None:
    at = page_as("workshop", "fiona").run()
    at.multiselect(key="sub_pools").set_value(["network", "security"]).run()
    at.slider(key="sub_network").set_value(40).run()
    at.slider(key="sub_security").set_value(10).run()
    assert not at.exception
    expected = _engine(app_db, WorkshopParams(pool_subsidies={"network": 40, "security": 10}))
    subsidy = Decimal(str(expected["subsidy"].sum()))
    network_only = Decimal(str(_engine(app_db, WorkshopParams(pool_subsidies={"network": 40}))["subsidy"].sum()))
    assert subsidy > network_only > 0                              # each pool carries its own share
    assert _metric(at, "Subsidy carried centrally") == money(subsidy)
    assert _metric(at, "Total charged") != _metric(page_as("workshop", "fiona").run(), "Total charged")


def test_the_saved_draft_holds_the_new_driver(app_db: Path) -> None:
    at = page_as("workshop", "fiona").run()
    at.selectbox(key="d_network").set_value("headcount:cost_center").run()
    at.text_input[0].input("Room agreed: network by headcount")
    at.button[0].click().run()
    assert not at.exception
    assert any("pending approval" in s.value for s in at.success)
    con = store.connect(app_db)
    try:
        status, body = con.execute("SELECT status, body::VARCHAR FROM rule_set WHERE reason = ?",
                                   ["Room agreed: network by headcount"]).fetchall()[0]
    finally:
        con.close()
    step = next(s for s in json.loads(body)["steps"] if s["id"] == "network")
    assert status == "pending"
    assert step["method"]["driver"] == "headcount" and step["target_kind"] == "cost_center"
