"""FinOps records a contract on the Contracts page; the register shows what allocation needs from it; executives
read it."""

from __future__ import annotations

import pytest

from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def test_record_a_contract_and_read_what_it_lacks() -> None:
    at = page_as("contracts", "fiona").run()
    assert not at.exception
    at.text_input(key="ct_vendor").input("Datadog")
    at.text_input(key="ct_name").input("Pro 2026")
    at.number_input(key="ct_spend").set_value(120000.0)
    at.checkbox(key="ct_usage").check()
    next(b for b in at.button if b.label == "Record").click().run()
    assert not at.exception and not at.error
    assert any("Contract 1 recorded." in s.value for s in at.success)
    missing = at.dataframe[1].value
    assert missing.to_dict("records") == [{"vendor": "Datadog", "contracts": 1,
                                           "missing": "resource tags, per-unit pricing, invoice detail"}]
    assert [m.value for m in at.metric] == ["120,000.00 USD"]
    eve = page_as("contracts", "eve").run()
    assert not eve.exception and not any(b.label == "Record" for b in eve.button)
