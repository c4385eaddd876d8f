"""The FX rates page: a rate entered by finops is in force with its version, a superseded one stays in the history,
the months still lacking a rate are listed, and read-only roles get the table without the forms."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def test_enter_rates_and_see_them_in_force_with_history(app_db: Path) -> None:
    at = page_as("fx_rates", "fiona").run()
    assert not at.exception and at.title[0].value == "FX rates"
    assert any(i.value.startswith("No FX rates yet for USD") for i in at.info)
    for rate in ("0.0934", "0.0926199970"):
        at.text_input(key="fx_period").input("2023-06")
        at.text_input(key="fx_currency").input("nok")
        at.text_input(key="fx_rate").input(rate)
        next(b for b in at.button if b.label == "Save rate").click().run()
    assert not at.exception and not at.error
    assert [s.value for s in at.success][-1] == ("NOK 2023-06: 0 new rate(s), 1 superseding the rate in force, "
                                                 "0 unchanged.")
    in_force = at.dataframe[-1].value
    assert list(zip(in_force["currency"], in_force["rate"], in_force["version"], strict=True)) == [
        ("NOK", Decimal("0.0926199970"), 2)]
    at.toggle(key="fx_history").set_value(True).run()
    history = at.dataframe[-1].value
    assert list(zip(history["rate"], history["in_force"], strict=True)) == [
        (Decimal("0.0926199970"), True), (Decimal("0.0934000000"), False)]


def test_a_bad_rate_is_refused_with_its_field(app_db: Path) -> None:
    at = page_as("fx_rates", "fiona").run()
    at.text_input(key="fx_period").input("2023-6")
    at.text_input(key="fx_currency").input("NOK")
    at.text_input(key="fx_rate").input("0.1")
    next(b for b in at.button if b.label == "Save rate").click().run()
    assert [e.value.replace("\\", "") for e in at.error] == ["period: expected YYYY-MM, got '2023-6'"]


def test_lines_without_a_rate_are_listed_and_auditors_only_read(app_db: Path) -> None:
    con = store.connect(app_db)
    try:
        con.execute("INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, "
                    "billed_cost, effective_cost, billing_currency, batch_id) VALUES "
                    "('2023-05', '2023-05-01', '2023-05-02', 'Old', 5, 5, 'SEK', 'fx-old')")
    finally:
        con.close()
    at = page_as("fx_rates", "audrey").run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Save rate"] and not at.text_input
    lacking = at.dataframe[0].value
    assert list(zip(lacking["period"], lacking["currency"], lacking["lines_are"], lacking["lines"], strict=True)) == [
        ("2023-05", "SEK", "loaded, not converted", 1)]


def test_roles_without_the_page_get_no_page() -> None:
    at = page_as("fx_rates", "omar").run()
    assert not [t for t in at.title if t.value == "FX rates"]
