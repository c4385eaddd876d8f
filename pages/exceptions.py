"""Business exceptions: request a time-boxed departure from the rules, have someone else approve it, review them."""

from __future__ import annotations

import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.governance import exceptions
from engine.insights import overview
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import plain
from ui.navigation import roles_for

user = require_role(*roles_for("exceptions"))

con = db()
st.title("Business exceptions")
st.caption("A project spike, an acquisition, a migration: scope, owner, reason, treatment and an expiry; applied "
           "without editing the rules once someone else approves it.")
periods = overview.periods(con)
if not periods:
    empty_state()
    st.stop()
period = st.selectbox("Status for", list(reversed(periods)), key="bx_period")
table = exceptions.list_exceptions(con, period)
if table.is_empty():
    st.info("No business exceptions yet.")
else:
    st.dataframe(table, hide_index=True, width="stretch")

if policy.can(user, "close_month"):
    with st.expander("Request an exception"):
        with st.form("bx_request"):
            c1, c2, c3 = st.columns(3)
            kind = c1.selectbox("Kind", exceptions.KINDS, key="bx_kind")
            treatment = c2.selectbox("Treatment", ["exclude_from_anomalies", "hold_centrally", "temporary_driver"],
                                     key="bx_treatment")
            field = c3.selectbox("Scope field", [*exceptions.ANOMALY_FIELDS, "billing_account_id", "sku_id"],
                                 key="bx_field")
            value = st.text_input("Scope value (e.g. a service name or cost centre id)", key="bx_value")
            d1, d2, d3 = st.columns(3)
            start = d1.selectbox("From", list(reversed(periods)), key="bx_from")
            end = d2.text_input("To (YYYY-MM)", value=period, key="bx_to")
            detail = d3.text_input("Central cost centre / driver (for hold or driver)", key="bx_detail")
            owner = st.text_input("Owner", value=user.username, key="bx_owner")
            reason = st.text_input("Reason", key="bx_reason")
            if st.form_submit_button("Request"):
                extra = ({"cost_center": detail.strip()} if treatment == "hold_centrally" else
                         {"driver": detail.strip()} if treatment == "temporary_driver" else {})
                try:
                    no = exceptions.request(con, user, kind=kind, match_field=field, match_value=value,
                                            owner=owner, reason=reason, treatment=treatment,  # type: ignore[arg-type]
                                            detail=extra, valid_from=start, valid_to=end.strip())
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.success(plain(f"Exception {no} requested: it applies once someone else approves it."))

waiting = table.filter(table["state"] == "requested") if not table.is_empty() else table
if policy.can(user, "approve_close") and not waiting.is_empty():
    st.subheader("Waiting for a decision")
    with st.form("bx_decide"):
        no = st.selectbox("Exception", waiting["exception_no"].to_list(), key="bx_no")
        note = st.text_input("Decision note", key="bx_note")
        a, r = st.columns(2)
        approve = a.form_submit_button("Approve", type="primary")
        reject = r.form_submit_button("Reject")
        if approve or reject:
            try:
                state = exceptions.decide(con, int(no), user.username, approve, note)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.success(plain(f"Exception {no} {state}."))
