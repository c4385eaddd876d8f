"""Invoices: enter or upload vendor invoice totals, validate them against billed cost, dispute a variance."""

from __future__ import annotations

import streamlit as st

from engine.errors import ApportionError
from engine.insights import overview
from engine.reconcile import invoice_disputes as disputes
from engine.reconcile import invoices
from engine.settings import get_settings
from ui.auth import require_role
from ui.db import db
from ui.downloads import download_row
from ui.empty import empty_state
from ui.formats import money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("invoices"))

con = db()
st.title("Invoices")
periods = list(reversed(overview.periods(con)))
if not periods:
    empty_state("billing data")
    st.stop()
period = st.selectbox("Billing period", periods, key="inv_period")

with st.expander("Enter an invoice total", expanded=True, icon=":material/edit_note:"):
    with st.form("inv_enter", clear_on_submit=True):
        c1, c2, c3, c4 = st.columns([2, 2, 2, 1])
        invoice_id = c1.text_input("Invoice id", key="inv_id")
        vendor = c2.text_input("Vendor", key="inv_vendor", help="As the billing data names the provider (AWS …).")
        total_text = c3.text_input("Invoice total", key="inv_total", placeholder="12,345.67")
        currency = c4.text_input("Currency", value=get_settings().currency, key="inv_currency")
        if st.form_submit_button("Save invoice", icon=":material/save:"):
            try:
                total = disputes.parse_amount(total_text, "invoice total")
                invoices.enter_invoice(con, user, invoice_id.strip(), vendor.strip(), period, total,
                                       currency.strip().upper())
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.success(plain(f"Saved invoice {invoice_id.strip()} from {vendor.strip()}: {money(total)}."))

with st.expander("Upload invoice totals (CSV)", icon=":material/upload_file:"):
    st.caption(plain("Columns: " + ", ".join(invoices.UPLOAD_COLUMNS) + ". A bad row is named and skipped."))
    upload = st.file_uploader("Invoice CSV", type=["csv"], key="inv_upload")
    if upload is not None and st.button("Load invoices", key="inv_load"):
        try:
            result = invoices.upload_invoices(con, user, upload.getvalue(), upload.name)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            st.success(f"Loaded {result.accepted:,} invoice total(s).")
            for line in result.errors:
                st.warning(plain(line))

st.subheader(plain(f"Billed cost against invoices, {period}"))
checked = disputes.with_disputes(con, invoices.validate(con, period))
entered = checked.filter(checked["invoice_total"].is_not_null())
flagged = checked.filter(checked["status"].is_in(["variance", "no_billing"]))
m1, m2, m3 = st.columns(3)
m1.metric("Invoices entered", f"{entered.height:,}")
m2.metric("Beyond tolerance", f"{flagged.height:,}")
m3.metric("Billing without an invoice", f"{checked.filter(checked['status'] == 'no_invoice').height:,}")
view = checked.sort(["status", "vendor", "invoice_id"], descending=[True, False, False])
st.dataframe(view, hide_index=True, width="stretch",
             column_config={"billed": st.column_config.NumberColumn(format="dollar"),
                            "invoice_total": st.column_config.NumberColumn(format="dollar"),
                            "variance": st.column_config.NumberColumn(format="dollar"),
                            "variance_pct": st.column_config.NumberColumn("variance %", format="%.2f")})
download_row(view, f"invoice-validation-{period}", "inv_dl")
st.caption("Variance = billed − invoiced; flagged when beyond both 1.00 and 0.5 % of the invoice. Validation uses "
           "BilledCost; statements show the allocated (amortised) total against the invoices.")

st.subheader("Open a dispute from a variance")
candidates = [r for r in entered.iter_rows(named=True) if r["status"] != "ok"
              and r["dispute_status"] not in ("open", "sent")]
if not candidates:
    st.info("No invoice of this period has a variance without a dispute in progress.")
else:
    by_label = {f"{r['vendor']} · {r['invoice_id']}": r for r in candidates}
    pick = by_label[st.selectbox("Invoice", list(by_label), key="inv_dispute_pick")]
    d1, d2, d3 = st.columns(3)
    d1.metric("Billed", money(pick["billed"]))
    d2.metric("Invoiced", money(pick["invoice_total"]))
    d3.metric("Variance", money(pick["variance"]), help="billed − invoiced")
    suggested = disputes.suggested_amount(pick["billed"], pick["invoice_total"])
    amount_text = st.text_input("Amount to dispute", value=f"{suggested:.2f}",
                                key=f"inv_amount_{pick['vendor']}_{pick['invoice_id']}")
    reason = st.text_area("Reason for the vendor", key="inv_reason")
    if st.button("Open dispute", type="primary", icon=":material/gavel:", key="inv_open"):
        try:
            opened = disputes.open_dispute(con, user, pick["invoice_id"], pick["vendor"],
                                           disputes.parse_amount(amount_text, "amount to dispute"), reason)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            st.success(plain(f"Dispute #{opened.dispute_id} opened with {opened.vendor} about invoice "
                             f"{opened.invoice_id} for {money(opened.amount)}."))

st.subheader("Invoice disputes")
listed = disputes.list_disputes(con)
if listed.is_empty():
    st.caption("No invoice disputes yet.")
else:
    st.dataframe(listed, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="dollar")
                                for c in ("amount", "billed", "invoice_total", "credit_amount")})
    live = [r for r in listed.iter_rows(named=True) if r["status"] in disputes.NEXT]
    if live:
        with st.form("inv_move"):
            c1, c2 = st.columns(2)
            labels = {f"#{r['dispute_id']} · {r['vendor']} · {r['invoice_id']} ({r['status']})": r for r in live}
            chosen = labels[c1.selectbox("Dispute", list(labels), key="inv_move_pick")]
            to = c2.selectbox("Move to", ["sent", "credited", "rejected", "withdrawn"], key="inv_move_to")
            note = st.text_input("Note (vendor reference, credit note, reason)", key="inv_move_note")
            credit = st.text_input("Credited amount (for a credit)", key="inv_move_credit")
            if st.form_submit_button("Update dispute", icon=":material/sync_alt:"):
                try:
                    disputes.move(con, user, int(chosen["dispute_id"]), to, note,
                                  disputes.parse_amount(credit, "credited amount") if credit.strip() else None)
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.rerun()
