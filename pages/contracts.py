"""Contracts: what each vendor contract commits to, when to review it, and what allocation needs that it lacks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.governance import contracts
from ui.auth import require_role
from ui.db import db
from ui.formats import plain
from ui.navigation import roles_for

user = require_role(*roles_for("contracts"))

con = db()
st.title("Contracts")
st.caption("Does each contract give allocation what it needs? Usage reports meter drivers, tags attribute cost, "
           "per-unit pricing splits it by quantity, invoice detail reconciles it.")
if notice := st.session_state.pop("contract_notice", None):
    st.success(plain(notice))
committed = contracts.committed_by_currency(con)
cols = st.columns(max(len(committed), 1))
for col, (currency, amount) in zip(cols, committed.items(), strict=False):
    col.metric(plain(f"Committed, contracts in force ({currency})"), plain(f"{amount:,.2f} {currency}"))
due = contracts.renewals_due(con)
if not due.is_empty():
    st.warning(plain(f"{due.height} contract(s) due for renewal review: "
                     + ", ".join(f"{v} {n} (ends {e})" for v, n, e in due.select("vendor", "name", "end_date")
                                 .iter_rows())))
register = contracts.register(con)
if register.is_empty():
    st.info("No contracts recorded yet.")
else:
    st.dataframe(register.drop("recorded_at"), hide_index=True, width="stretch")
    st.subheader("What to ask for at renewal")
    st.dataframe(contracts.missing_by_vendor(con), hide_index=True, width="stretch")

if policy.can(user, "manage_contracts"):
    with st.expander("Record a contract"):
        with st.form("contract_add"):
            c1, c2, c3 = st.columns(3)
            vendor = c1.text_input("Vendor", key="ct_vendor")
            name = c2.text_input("Contract", key="ct_name")
            currency = c3.text_input("Currency", value="USD", key="ct_currency")
            d1, d2, d3, d4 = st.columns(4)
            start = d1.date_input("Start", value=date.today().replace(day=1), key="ct_start")
            end = d2.date_input("End", value=date.today().replace(year=date.today().year + 1, day=1), key="ct_end")
            spend = d3.number_input("Committed spend", min_value=0.0, step=1000.0, key="ct_spend")
            notice = d4.number_input("Notice (days)", min_value=0, max_value=730, value=90, key="ct_notice")
            k1, k2, k3, k4 = st.columns(4)
            usage = k1.checkbox("Usage reports", key="ct_usage")
            tags = k2.checkbox("Resource tags", key="ct_tags")
            unit = k3.checkbox("Per-unit pricing", key="ct_unit")
            invoice = k4.checkbox("Invoice detail", key="ct_invoice")
            notes = st.text_input("Notes", key="ct_notes")
            if st.form_submit_button("Record", type="primary"):
                try:
                    no = contracts.record(con, user, contracts.Contract(
                        vendor, name, start, end, Decimal(str(spend)).quantize(Decimal("0.01")), currency.strip(),
                        usage, tags, unit, invoice, int(notice), notes))
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.session_state["contract_notice"] = f"Contract {no} recorded."
                    st.rerun()
