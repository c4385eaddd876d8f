"""FX rates: load a rates file or enter one rate (finops, admin); everyone here sees the rates in force with their
history and the currencies and months of loaded or quarantined lines that still lack a rate."""

from __future__ import annotations

import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.fx import rates
from ui.auth import require_role
from ui.db import db
from ui.formats import plain
from ui.navigation import roles_for

user = require_role(*roles_for("fx_rates"))

con = db()
reporting = rates.reporting_currency()
st.title("FX rates")
st.caption(plain(f"Reporting currency {reporting}: every cost line is converted at ingest with the rate of its "
                 f"billing month (rate = {reporting} per 1 unit of the billing currency) and keeps its own amounts."))

if policy.can(user, "manage_fx"):
    with st.expander("Load a rates file", icon=":material/upload_file:"):
        st.caption(plain("ECB reference rates (Date,USD,JPY,… per EUR; monthly average of the daily rates) or "
                         f"period,currency,rate ({reporting} per 1 unit)."))
        layout = st.radio("Layout", ["recognise from the header", "ecb", "long"], horizontal=True, key="fx_layout")
        upload = st.file_uploader("Rates CSV", type=["csv"], key="fx_upload")
        if upload is not None and st.button("Load rates", key="fx_load"):
            try:
                chosen = None if layout.startswith("recognise") else layout
                stored = rates.load_file(con, user, upload.getvalue(), upload.name,
                                         "ecb" if chosen == "ecb" else "long" if chosen == "long" else None)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.success(plain(f"{upload.name} ({stored.layout} layout): {stored.describe()}."))
    with st.form("fx_enter", clear_on_submit=True):
        st.markdown("**Enter one rate**")
        c1, c2, c3 = st.columns(3)
        period = c1.text_input("Period (YYYY-MM)", key="fx_period")
        currency = c2.text_input("Currency", key="fx_currency", placeholder="NOK")
        rate = c3.text_input(plain(f"Rate ({reporting} per 1 unit)"), key="fx_rate", placeholder="0.0934")
        if st.form_submit_button("Save rate", icon=":material/save:"):
            try:
                stored = rates.set_rate(con, user, period, currency, rate)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.success(plain(f"{currency.strip().upper()} {period.strip()}: {stored.describe()}."))

st.subheader("Still without a rate")
lacking = rates.missing(con)
if lacking.is_empty():
    st.info("Every loaded or quarantined cost line has a rate into the reporting currency.")
else:
    st.caption("Load these rates, then load the files again (quarantined lines) or roll back and re-load them "
               "(lines loaded before their rate).")
    st.dataframe(lacking, hide_index=True, width="stretch")

st.subheader(plain(f"Rates in force ({reporting})"))
history = st.toggle("Show superseded versions", key="fx_history")
table = rates.table(con, history=history)
if table.is_empty():
    st.info(plain(f"No FX rates yet for {reporting}. Lines in another currency are quarantined until their month "
                  "has a rate."))
else:
    st.dataframe(table, hide_index=True, width="stretch")
