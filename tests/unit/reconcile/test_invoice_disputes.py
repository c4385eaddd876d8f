"""Invoice disputes with the vendor: opened from a variance, one unsettled per invoice, moved on, audited."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import pytest

from engine.access.users import User
from engine.errors import AccessDenied, InputError, NotFound
from engine.reconcile import invoice_disputes as disputes
from engine.reconcile.invoices import enter_invoice, validate

FINOPS = User("fiona", "Fiona", "finops", None)
AUDITOR = User("audrey", "Audrey", "auditor", None)


def _invoice(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, billed_cost,"
        " effective_cost, billing_currency, invoice_id, batch_id) VALUES"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'Microsoft', 1500.004, 1500, 'USD', 'INV-M',"
        "  'b'),"
        " ('2026-10', TIMESTAMP '2026-10-02', TIMESTAMP '2026-10-03', 'Microsoft', 1000, 1000, 'USD', 'INV-M', 'b')"
    )
    enter_invoice(con, FINOPS, "INV-M", "Microsoft", "2026-10", D("2620.00"), "USD")


def test_a_dispute_opened_from_a_variance_records_it_and_moves_to_a_credit(con: duckdb.DuckDBPyConnection) -> None:
    _invoice(con)
    row = validate(con, "2026-10").row(0, named=True)
    assert (row["billed"], row["invoice_total"], row["variance"], row["status"]) == (
        D("2500.00"), D("2620.00"), D("-120.00"), "variance")
    amount = disputes.suggested_amount(row["billed"], row["invoice_total"])
    assert amount == D("120.00")
    d = disputes.open_dispute(con, FINOPS, "INV-M", "Microsoft", amount, "support fee billed twice")
    assert (d.status, d.amount, d.billed, d.invoice_total, d.billing_period, d.currency) == (
        "open", D("120.00"), D("2500.00"), D("2620.00"), "2026-10", "USD")
    with pytest.raises(InputError, match="already has dispute"):
        disputes.open_dispute(con, FINOPS, "INV-M", "Microsoft", D("1"), "again")
    shown = disputes.with_disputes(con, validate(con, "2026-10")).row(0, named=True)
    assert (shown["dispute_id"], shown["dispute_status"]) == (d.dispute_id, "open")

    disputes.move(con, FINOPS, d.dispute_id, "sent", "ticket MS-778")
    with pytest.raises(InputError, match="amount the vendor credited"):
        disputes.move(con, FINOPS, d.dispute_id, "credited")
    done = disputes.move(con, FINOPS, d.dispute_id, "credited", "credit note CN-1", D("120"))
    assert (done.status, done.credit_amount, done.resolution) == ("credited", D("120.00"), "credit note CN-1")
    with pytest.raises(InputError, match="settled"):
        disputes.move(con, FINOPS, d.dispute_id, "withdrawn", "no")
    assert con.execute("SELECT action, actor FROM audit_event WHERE entity = 'invoice_dispute' ORDER BY seq"
                       ).fetchall() == [("invoice_dispute.open", "fiona"), ("invoice_dispute.sent", "fiona"),
                                        ("invoice_dispute.credited", "fiona")]
    # settled: a new dispute on the same invoice may be opened
    assert disputes.open_dispute(con, FINOPS, "INV-M", "Microsoft", D("5"), "late fee").status == "open"


def test_disputes_are_checked(con: duckdb.DuckDBPyConnection) -> None:
    _invoice(con)
    with pytest.raises(AccessDenied):
        disputes.open_dispute(con, AUDITOR, "INV-M", "Microsoft", D("120"), "x")
    with pytest.raises(AccessDenied):
        enter_invoice(con, AUDITOR, "INV-X", "AWS", "2026-10", D("1"), "USD")
    with pytest.raises(NotFound):
        disputes.open_dispute(con, FINOPS, "INV-X", "AWS", D("1"), "x")
    with pytest.raises(InputError, match="exceeds the invoice total"):
        disputes.open_dispute(con, FINOPS, "INV-M", "Microsoft", D("2620.01"), "x")
    with pytest.raises(InputError, match="positive"):
        disputes.open_dispute(con, FINOPS, "INV-M", "Microsoft", D("0"), "x")
    with pytest.raises(InputError, match="reason"):
        disputes.open_dispute(con, FINOPS, "INV-M", "Microsoft", D("1"), "  ")
    d = disputes.open_dispute(con, FINOPS, "INV-M", "Microsoft", D("1"), "x")
    with pytest.raises(InputError, match="say why"):
        disputes.move(con, FINOPS, d.dispute_id, "withdrawn")
    with pytest.raises(InputError, match="can move to sent, withdrawn"):
        disputes.move(con, FINOPS, d.dispute_id, "credited", credit_amount=D("1"))
    assert disputes.list_disputes(con, "2026-10").height == 1
