"""My costs: an app owner's own cost centres, month by month, and where this month's change comes from."""

from __future__ import annotations

import streamlit as st

from engine import explorer, overview
from ui import charts
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import money
from ui.navigation import roles_for

user = require_role(*roles_for("my_costs"))

con = db()
st.title("My costs")
if user.scoped:
    st.caption(f"Showing your cost centres only: {', '.join(sorted(user.cost_centers or []))}")
periods = overview.periods(con)
if not periods:
    empty_state()
    st.stop()
period = st.selectbox("Billing period", list(reversed(periods)), key="my_costs_period")

apps = explorer.breakdown(con, user, period, "application")
total = apps["cost"].sum() if not apps.is_empty() else 0
prev = apps["previous"].sum() if not apps.is_empty() else 0
c1, c2 = st.columns(2)
c1.metric("This month", money(total), delta=money(total - prev) + " vs prior month", delta_color="inverse")
c2.metric("Applications", len(apps))

st.subheader("Monthly cost by application")
st.altair_chart(charts.stacked_spend(explorer.monthly(con, user, "application"), "Application"), width="stretch")

st.subheader("Change by application")
st.dataframe(apps, hide_index=True, width="stretch")
