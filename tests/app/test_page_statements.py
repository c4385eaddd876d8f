"""The Statements page through AppTest on the demo store: an app owner's page carries their cost centre's figures,
last month's charge and the change, and no organisation-wide line; FinOps' page carries the reconciliation."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from engine.access.statement_access import statement_for
from engine.access.users import get_user
from engine.allocation.runs import latest_run
from engine.costmodels.presets import FULL_RECOVERY
from engine.insights import comparison
from engine.reconcile.invoices import allocated_vs_invoice
from tests.app.conftest import page_as
from ui.formats import money, plain

pytestmark = pytest.mark.usefixtures("app_env")


def _metric(at, label: str):  # noqa: ANN001, ANN202
    return next(m for m in at.metric if m.label == label)


def test_app_owner_page_has_prior_month_and_no_organisation_line(app_db: Path) -> None:
    con = duckdb.connect(str(app_db), read_only=True)
    try:
        omar = get_user(con, "omar")
        assert omar is not None and omar.cost_centers
        period = comparison.posted_periods(con)[-1]
        stmt = statement_for(con, omar, period, sorted(omar.cost_centers)[0], FULL_RECOVERY)
        run = latest_run(con, period)
        assert run is not None
        org = allocated_vs_invoice(con, run)
    finally:
        con.close()
    at = page_as("statements", "omar").run()
    assert not at.exception
    assert stmt.prior.charge is not None and stmt.charge_change is not None
    assert _metric(at, "Charge").value == money(stmt.charge)
    assert _metric(at, "Charge").delta == money(stmt.charge_change) + " vs prior month"
    assert _metric(at, plain(f"Charge {stmt.prior.period}")).value == money(stmt.prior.charge)
    captions = [c.value for c in at.caption]
    assert plain(stmt.prior_line()) in captions
    assert not any("invoiced" in c.lower() for c in captions)
    assert all(f"{org.allocated_total:,.2f}" not in c for c in captions)
    assert len(at.get("download_button")) == 3

    fin = page_as("statements", "fiona").run()
    assert not fin.exception
    assert plain(org.describe()) in [c.value for c in fin.caption]
