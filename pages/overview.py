"""Executive overview: where the money goes, what changed, how much is untagged."""

from __future__ import annotations

import streamlit as st

from engine import comparison, overview
from ui import charts
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import money, pct
from ui.navigation import roles_for

user = require_role(*roles_for("overview"))

con = db()
periods = overview.periods(con)
st.title("Executive overview")
if not periods:
    empty_state()
    st.stop()

period = st.selectbox("Billing period", list(reversed(periods)), key="overview_period")
k = overview.kpis(con, user, period)

c1, c2, c3, c4 = st.columns(4)
c1.metric("Total spend", money(k.total, compact=True),
          delta=pct(k.change_pct) + " vs prior month" if k.change_pct is not None else None, delta_color="inverse")
c2.metric("Untagged", pct(k.untagged_pct), help="Share of effective cost with no cost-centre tag.")
c3.metric("Unattributed", pct(k.unattributed_pct),
          help="Share with neither a valid cost-centre tag nor an account owner: it lands in the unallocated pool.")
c4.metric("Run-rate forecast (next month)", money(k.run_rate_forecast, compact=True),
          help="This month grown by the average monthly growth of the last two months.")

presets = comparison.available(con)
rec_scenario = st.selectbox("Chargeback model for recovery", list(presets), index=len(presets) - 1,
                            key="overview_scenario")
rec = overview.recovery(con, period, presets[rec_scenario])
if rec is not None:
    r1, r2, r3 = st.columns(3)
    r1.metric("Allocated", pct(rec.allocated_pct), help="Share of the month's cost posted to a cost centre.")
    r2.metric("Unallocated line", money(rec.unallocated, compact=True))
    r3.metric("Cost recovered", pct(rec.recovered_pct), help=f"Charged under '{rec_scenario}' ÷ cost.")
else:
    st.caption("This month has not been closed yet: allocation and recovery appear after month close.")

st.subheader("Spend by business unit")
st.altair_chart(charts.stacked_spend(overview.spend_by_month(con, user, "business_unit")), width="stretch")

left, right = st.columns(2)
with left:
    st.subheader("Top movers by business unit")
    st.altair_chart(charts.movers(overview.top_movers(con, user, period, "business_unit"), "Business unit"),
                    width="stretch")
with right:
    st.subheader("Top movers by service")
    st.altair_chart(charts.movers(overview.top_movers(con, user, period, "service_name"), "Service"),
                    width="stretch")

st.subheader("Untagged share of spend")
st.altair_chart(charts.share_line(overview.untagged_share_by_month(con, user), "untagged_pct", "Untagged %"),
                width="stretch")
