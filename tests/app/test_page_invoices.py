"""The invoices page: an invoice total entered against the demo billing shows its variance, a dispute opened from it
is stored with the figures it was opened from, and roles without the action get no page."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as
from ui.formats import money, plain

pytestmark = pytest.mark.usefixtures("app_env")


def _an_invoice(db: Path) -> tuple[str, str, str, Decimal]:
    con = store.connect(db)
    try:
        row = con.execute(
            "SELECT billing_period, provider, invoice_id, CAST(round(sum(billed_cost), 2) AS DECIMAL(18, 2))"
            " FROM cost_line WHERE invoice_id IS NOT NULL AND billing_period = (SELECT max(billing_period)"
            " FROM cost_line) GROUP BY ALL ORDER BY provider, invoice_id LIMIT 1").fetchall()[0]
    finally:
        con.close()
    return row[0], row[1], row[2], Decimal(row[3])


def test_enter_an_invoice_see_the_variance_and_open_a_dispute(app_db: Path) -> None:
    period, vendor, invoice_id, billed = _an_invoice(app_db)
    over = (billed * Decimal("0.02")).quantize(Decimal("0.01"))       # 2 %: beyond both tolerances
    invoiced = billed + over
    at = page_as("invoices", "fiona").run()
    assert not at.exception and at.title[0].value == "Invoices"
    assert at.selectbox(key="inv_period").value == period
    at.text_input(key="inv_id").input(invoice_id)
    at.text_input(key="inv_vendor").input(vendor)
    at.text_input(key="inv_total").input(f"{invoiced:,.2f}")
    next(b for b in at.button if b.label == "Save invoice").click().run()
    assert not at.exception and not at.error
    assert any(f"{money(invoiced)}" in s.value for s in at.success)

    at.selectbox(key="inv_dispute_pick").select(f"{vendor} · {invoice_id}").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Billed"] == money(billed) and metrics["Invoiced"] == money(invoiced)
    assert metrics["Variance"] == money(-over)
    assert at.text_input(key=f"inv_amount_{vendor}_{invoice_id}").value == f"{over:.2f}"
    at.text_area(key="inv_reason").input("support plan invoiced twice")
    at.button(key="inv_open").click().run()
    assert not at.exception and not at.error
    assert any(plain(f"about invoice {invoice_id} for {money(over)}") in s.value for s in at.success)

    con = store.connect(app_db)
    try:
        assert con.execute("SELECT vendor, invoice_id, amount, billed, invoice_total, status, opened_by"
                           " FROM invoice_dispute").fetchall() == [
            (vendor, invoice_id, over, billed, invoiced, "open", "fiona")]
        assert con.execute("SELECT count(*) FROM audit_event WHERE action = 'invoice_dispute.open'"
                           ).fetchall() == [(1,)]
    finally:
        con.close()

    at = page_as("invoices", "fiona").run()                  # settle it: sent, then credited
    at.selectbox(key="inv_move_to").select("sent")
    at.text_input(key="inv_move_note").input("case 4471")
    next(b for b in at.button if b.label == "Update dispute").click().run()
    at.selectbox(key="inv_move_to").select("credited")
    at.text_input(key="inv_move_credit").input(str(over))
    next(b for b in at.button if b.label == "Update dispute").click().run()
    assert not at.exception and not at.error
    con = store.connect(app_db)
    try:
        assert con.execute("SELECT status, credit_amount FROM invoice_dispute").fetchall() == [
            ("credited", over)]
    finally:
        con.close()


@pytest.mark.parametrize("username", ["audrey", "eve", "omar"])
def test_roles_without_invoices_are_refused(username: str) -> None:
    at = page_as("invoices", username).run()
    assert not at.exception and at.error and not at.title
