"""FinOps proposes budgets from history on the Plan vs actual page and saves them; the store and the audit hold them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine import store
from engine.governance import budgets
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def test_propose_and_save_budgets(app_db: Path) -> None:
    at = page_as("planning", "fiona").run()
    assert not at.exception
    period = at.selectbox(key="plan_period").value
    at.slider(key="budget_growth").set_value(10).run()
    at.text_input(key="budget_reason").input("next year's envelope")
    next(b for b in at.button if b.label == "Save budgets").click().run()
    assert not at.exception and not at.error
    con = store.connect(app_db)
    try:
        expected = budgets.propose(con, period, growth=Decimal("0.1"))
        saved = dict(con.execute("SELECT cost_center_id, amount FROM budget WHERE period = ?", [period]).fetchall())
        assert expected.height > 0
        assert all(saved[cc] == amount for cc, amount in expected.select("cost_center_id", "proposed").iter_rows())
        assert con.execute("SELECT actor FROM audit_event WHERE action = 'budget.set'").fetchall() == [("fiona",)]
    finally:
        con.close()
    eve = page_as("planning", "audrey").run()
    assert not eve.exception and not any(b.label == "Save budgets" for b in eve.button)
