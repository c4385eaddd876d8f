"""Executive overview: where the money goes, what changed, how much is untagged, how much is recovered."""

from __future__ import annotations

import streamlit as st

from engine.insights import comparison, overview
from engine.insights.anomalies import workflow
from engine.insights.anomalies.workflow import KIND_TITLES, RULE_TITLES, span_text
from ui import cache, charts
from ui.auth import require_role
from ui.db import data_version, db
from ui.empty import empty_state
from ui.formats import money, pct, plain
from ui.navigation import roles_for

user = require_role(*roles_for("overview"))

con = db()
periods = overview.periods(con)
st.title("Executive overview")
if not periods:
    empty_state()
    st.stop()

c1, c2 = st.columns([1, 2])
period = c1.selectbox("Billing period", list(reversed(periods)), key="overview_period")
models = list(comparison.available(con))
rec_scenario = c2.selectbox("Chargeback model for recovery", models, index=len(models) - 1, key="overview_scenario")
f = cache.overview_figures(cache.db_path(), data_version(), user.username, period, rec_scenario)
k, rec = f["kpis"], f["recovery"]

m = st.columns(4)
m[0].metric("Total spend", money(k.total, compact=True),
            delta=pct(k.change_pct) + " vs prior month" if k.change_pct is not None else None, delta_color="inverse")
m[1].metric("Untagged", pct(k.untagged_pct), help="Share of effective cost with no cost-centre tag.")
m[2].metric("Unattributed", pct(k.unattributed_pct),
            help="Share with neither a valid cost-centre tag nor an account owner: it lands in the unallocated pool.")
m[3].metric("Run-rate forecast (next month)", money(k.run_rate_forecast, compact=True),
            help="This month grown by the average monthly growth of the last two months.")
if rec is not None:
    r = st.columns(4)
    r[0].metric("Allocated", pct(rec.allocated_pct), help="Share of the month's cost posted to a cost centre.")
    r[1].metric("Unallocated line", money(rec.unallocated, compact=True))
    r[2].metric("Cost recovered", pct(rec.recovered_pct), help=plain(f"Charged under '{rec_scenario}' ÷ cost."))
    r[3].metric("Charged", money(rec.charged, compact=True))
else:
    st.caption("This month has not been closed yet: allocation and recovery appear after month close.")

POLL_SECONDS = 3


@st.fragment(run_every=POLL_SECONDS)
def anomaly_panel() -> None:
    """Open anomalies, live: every few seconds one cheap query (the flags' version) decides whether anything
    changed; only this panel reruns, and it recomputes only when the version moved (an ingest, a triage)."""
    s = cache.flag_summary(cache.db_path(), workflow.flags_version(db(), user), user.username)
    st.subheader("Open anomalies")
    a = st.columns(4)
    a[0].metric("Open anomalies", f"{s['active']:,}", help="Detected, not yet resolved or dismissed (all months).")
    a[1].metric("Amount at risk", money(s["at_risk"], compact=True),
                help="Summed excess over expected of the open anomalies.")
    if s["top"].is_empty():
        st.caption("No open anomalies. Bills are checked as they are loaded, and each month again when it is closed.")
        return
    for row in s["top"].iter_rows(named=True):
        days = span_text(row["rule"], row["first_date"], row["last_date"])
        c = st.columns([4, 2, 3, 2, 2])
        c[0].text(row["scope_name"])   # a name from the data: shown as text, never as Markdown
        c[1].text(KIND_TITLES.get(row["scope_kind"], row["scope_kind"]))
        c[2].text(f"{days} · {RULE_TITLES.get(row['rule'], row['rule'])}")
        c[3].text(f"+{money(row['excess'])}")
        c[4].text(f"{row['anomaly_id']} · {row['status'].replace('_', ' ')}")
    st.caption("Largest five by excess; triage and the lines behind each on the Anomalies page.")


anomaly_panel()

st.subheader("Spend by business unit")
charts.render(charts.stacked_spend(f["spend"]), f["spend"])

left, right = st.columns(2)
with left:
    st.subheader("Top movers by business unit")
    charts.render(charts.movers(f["movers_bu"], "Business unit"), f["movers_bu"])
with right:
    st.subheader("Top movers by service")
    charts.render(charts.movers(f["movers_service"], "Service"), f["movers_service"])

st.subheader("Untagged share of spend")
charts.render(charts.share_line(f["untagged"], "untagged_pct", "Untagged %"), f["untagged"])
