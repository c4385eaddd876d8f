"""Charge disputes: app owners raise and follow theirs; FinOps accept (adjustment in the next run) or reject."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import streamlit as st

from engine.access import policy
from engine.access.scope import visible_cost_centers
from engine.errors import ApportionError
from engine.improvement import disputes, notifications
from engine.insights import comparison
from engine.rules.model import UNALLOCATED
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("disputes"))
con = db()
st.title("Disputes")

inbox = notifications.inbox(con, user, unread_only=True)
if inbox:
    st.subheader(f"Notifications ({len(inbox)} unread)")
    for n in inbox:
        st.info(plain(f"{n.subject} — {n.body}"))
    if st.button("Mark all read", key="notes_read"):
        notifications.mark_read(con, user)
        st.rerun()

periods = comparison.posted_periods(con)
centres = visible_cost_centers(con, user)
if not periods or not centres:
    empty_state("posted allocation run")
    st.stop()

prefill = st.session_state.pop("dispute_prefill", None) or {}
if policy.can(user, "raise_dispute"):
    st.subheader("Dispute a statement line")
    plist = list(reversed(periods))
    c1, c2 = st.columns(2)
    period = c1.selectbox("Statement month", plist, key="dsp_period",
                          index=plist.index(prefill["period"]) if prefill.get("period") in plist else 0)
    ccs = [c for c, _ in centres]
    cc = c2.selectbox("Cost centre", ccs, key="dsp_cc", format_func=lambda c: f"{c} · {dict(centres)[c]}",
                      index=ccs.index(prefill["cc"]) if prefill.get("cc") in ccs else 0)
    try:
        lines = disputes.lines(con, user, period, cc)
    except ApportionError as exc:
        st.error(plain(str(exc)))
        lines = pl.DataFrame()
    if lines.height:
        rows = list(lines.iter_rows(named=True))
        labels = [f"{r['step']} · {r['step_name']} · {r['source_pool']}"
                  + (f" · {r['app_id']}" if r["app_id"] else "") + f" — {money(r['amount'])}" for r in rows]
        with st.form("raise_dispute"):
            pick = st.selectbox("Line", range(len(rows)), format_func=lambda i: labels[i], key="dsp_line")
            amount = st.number_input("Amount disputed", min_value=0.01, step=0.01, format="%.2f", key="dsp_amount")
            reason = st.text_area("Reason", key="dsp_reason")
            evidence = st.text_area("Evidence (ticket numbers, links, figures)", key="dsp_evidence")
            if st.form_submit_button("Raise dispute"):
                r = rows[pick]
                try:
                    d = disputes.raise_dispute(con, user, period, cc, disputes.LineRef(
                        r["step"], r["step_name"], r["source_pool"], r["app_id"]),
                        Decimal(str(amount)).quantize(Decimal("0.01")), reason, evidence)
                    st.success(plain(f"Dispute {d.dispute_id} raised: FinOps has been notified."))
                except ApportionError as exc:
                    st.error(plain(str(exc)))

st.subheader("Disputes")
mine = disputes.list_disputes(con, user)
if not mine:
    st.caption("No disputes yet.")
else:
    st.dataframe(pl.DataFrame([{
        "dispute": d.dispute_id, "month": d.period, "cost_centre": d.cost_center_id, "line": d.step_name,
        "pool": d.source_pool, "amount": d.amount, "status": d.status, "raised_by": d.raised_by,
        "answer": d.resolution, "moved_to": d.assign_to, "adjusted_in": d.adjust_period,
        "posted": d.posted_run_key is not None} for d in mine]), hide_index=True, width="stretch")

if policy.can(user, "decide_dispute"):
    open_ = [d for d in mine if d.status == "open"]
    if open_:
        st.subheader("Decide")
        with st.form("decide_dispute"):
            did = st.selectbox("Open dispute", [d.dispute_id for d in open_], key="dec_id")
            answer = st.text_area("Answer to the app owner", key="dec_answer")
            targets = [UNALLOCATED] + [c for c, _ in centres]
            to = st.selectbox("Move the amount to", targets, key="dec_to",
                              format_func=lambda c: "Unallocated (carried centrally)" if c == UNALLOCATED else c)
            a, r = st.columns(2)
            accept = a.form_submit_button("Accept")
            reject = r.form_submit_button("Reject")
        try:
            if accept:
                d = disputes.accept(con, user, did, answer, assign_to=to)
                st.success(plain(f"Accepted: {d.amount:,.2f} is posted in the next {d.adjust_period} run."))
            elif reject:
                disputes.reject(con, user, did, answer)
                st.success(plain(f"Rejected {did}: the app owner has the answer."))
        except ApportionError as exc:
            st.error(plain(str(exc)))
    waiting = disputes.awaiting_run(con, user)
    if waiting and policy.can(user, "close_month"):
        st.subheader("Adjustments waiting for a run")
        for p in sorted({d.adjust_period for d in waiting if d.adjust_period}):
            ids = ", ".join(d.dispute_id for d in waiting if d.adjust_period == p)
            st.caption(plain(f"{p}: {ids}"))
            if st.button(plain(f"Re-run {p} to post the adjustments"), key=f"rerun_{p}"):
                try:
                    s = disputes.post_adjustments(con, user, p)
                    st.success(plain(f"{p} posted: run {s.run_key[:16]}"))
                except ApportionError as exc:
                    st.error(plain(str(exc)))
