"""Billed cost per invoice against entered/uploaded invoice totals, tolerance flags, allocated vs invoice."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import pytest

from engine.reconcile.invoices import Tolerance, allocated_vs_invoice, load_invoices_csv, record_invoice, validate
from engine.store import audit


def _lines(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, billed_cost,"
        " effective_cost, billing_currency, invoice_id, batch_id) VALUES"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'AWS', 6000.004, 5000, 'USD', 'INV-A', 'b'),"
        " ('2026-10', TIMESTAMP '2026-10-02', TIMESTAMP '2026-10-03', 'AWS', 4000.000, 4100, 'USD', 'INV-A', 'b'),"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'Microsoft', 2500, 2500, 'USD', 'INV-M', 'b'),"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'Google', 120.50, 120.50, 'USD', NULL, 'b'),"
        " ('2026-09', TIMESTAMP '2026-09-01', TIMESTAMP '2026-09-02', 'AWS', 999, 999, 'USD', 'INV-S', 'b')"
    )


def test_variances_are_flagged_with_tolerance(con: duckdb.DuckDBPyConnection) -> None:
    _lines(con)
    record_invoice(con, "INV-A", "AWS", "2026-10", D("10000.40"), "USD", "ap.clerk")
    record_invoice(con, "INV-M", "Microsoft", "2026-10", D("2380.00"), "USD", "ap.clerk")
    record_invoice(con, "INV-O", "Oracle", "2026-10", D("700.00"), "USD", "ap.clerk")
    res = {(r["vendor"], r["invoice_id"]): (r["billed"], r["invoice_total"], r["variance"], r["status"])
           for r in validate(con, "2026-10").iter_rows(named=True)}
    assert res == {
        # 10,000.00 billed vs 10,000.40 invoiced: 0.40 is within 1.00 → ok.
        ("AWS", "INV-A"): (D("10000.00"), D("10000.40"), D("-0.40"), "ok"),
        # 120.00 over on 2,380.00 = 5.04 % → flagged.
        ("Microsoft", "INV-M"): (D("2500.00"), D("2380.00"), D("120.00"), "variance"),
        ("Google", "(no invoice id)"): (D("120.50"), None, None, "no_invoice"),
        ("Oracle", "INV-O"): (None, D("700.00"), D("-700.00"), "no_billing"),
    }
    strict = validate(con, "2026-10", Tolerance(abs_amount=D("0.10"), pct=D("0.001")))
    assert strict.filter(invoice_id="INV-A")["status"].item() == "variance"
    assert round(validate(con, "2026-10").filter(invoice_id="INV-M")["variance_pct"].item(), 2) == 5.04


def test_correction_replaces_and_is_audited(con: duckdb.DuckDBPyConnection) -> None:
    record_invoice(con, "INV-A", "AWS", "2026-10", D("1"), "USD", "ap.clerk")
    record_invoice(con, "INV-A", "AWS", "2026-10", D("2"), "USD", "ap.lead")
    assert con.sql("SELECT total, entered_by FROM invoice").fetchall() == [(D("2.00"), "ap.lead")]
    events = con.sql("SELECT detail->>'previous' FROM audit_event WHERE action = 'invoice.enter' ORDER BY seq")
    assert [r[0] for r in events.fetchall()] == [None, "1.00"]
    assert audit.verify(con).ok
    with pytest.raises(ValueError):
        record_invoice(con, "INV-B", "AWS", "2026/10", D("1"), "USD", "x")


def test_upload_keeps_good_rows_and_names_bad_ones(con: duckdb.DuckDBPyConnection) -> None:
    data = ("\ufeffInvoice_ID,Vendor,Billing_Period,Total,Currency\n"
            "INV-A,AWS,2026-10,\"10,000.40\",usd\n"
            "INV-B,AWS,2026-10,ten,USD\n"
            "INV-C,AWS,2026-13,5,USD\n"
            ",AWS,2026-10,5,USD\n").encode()
    res = load_invoices_csv(con, data, "ap.clerk", "october.csv")
    assert res.accepted == 1
    assert res.errors == [
        "october.csv row 2, column total: 'ten' is not a number",
        "october.csv row 3, column billing_period: expected YYYY-MM, got '2026-13'",
        "october.csv row 4: invoice_id, vendor and currency are required",
    ]
    assert con.sql("SELECT total, currency, source FROM invoice").fetchall() == [(D("10000.40"), "USD", "upload")]
    with pytest.raises(ValueError, match="missing column"):
        load_invoices_csv(con, b"id,amount\n1,2\n", "ap.clerk", "bad.csv")


def test_allocated_total_vs_invoice(con: duckdb.DuckDBPyConnection) -> None:
    _lines(con)
    con.execute("INSERT INTO allocation_run (run_key, period, rule_set, rule_version, basis, total_in, total_out,"
                " status) VALUES ('r1', '2026-10', 'demo', 1, 'billed', 12620.50, 12620.50, 'posted')")
    con.execute("INSERT INTO allocation_result (run_key, period, step, source_pool, method, target_kind, target_id,"
                " amount, posted_amount) VALUES"
                " ('r1', '2026-10', 1, 'p', 'direct', 'cost_center', 'CC1', 12000, 12000),"
                " ('r1', '2026-10', 1, 'p', 'direct', 'unallocated', 'UNALLOCATED', 620.50, 620.50)")
    before = allocated_vs_invoice(con, "r1")
    assert (before.allocated_total, before.billed_total, before.invoice_total) == (D("12620.50"), D("12620.50"), None)
    assert "no invoice totals" in before.describe()
    record_invoice(con, "INV-A", "AWS", "2026-10", D("10000.40"), "USD", "ap")
    record_invoice(con, "INV-M", "Microsoft", "2026-10", D("2500.00"), "USD", "ap")
    after = allocated_vs_invoice(con, "r1")
    assert (after.invoice_total, after.invoices_entered, after.difference) == (D("12500.40"), 2, D("120.10"))
    assert after.describe() == ("Allocated 12,620.50 (billed cost) vs invoiced 12,500.40 (2 invoices): "
                                "difference 120.10.")
