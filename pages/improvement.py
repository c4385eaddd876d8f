"""Continuous improvement for the FinOps lead: adoption KPIs, accuracy, rule reviews, cost avoided, cost to operate
and benchmarks against editable target bands."""

from __future__ import annotations

import polars as pl
import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.improvement import accuracy, avoidance, benchmarks, kpis, operating, reviews
from engine.insights import comparison
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("improvement"))
con = db()
st.title("Continuous improvement")
lead = policy.can(user, "lead_improvement")
periods = comparison.posted_periods(con)
if not periods:
    empty_state("posted allocation run")
    st.stop()
period = st.selectbox("Month", list(reversed(periods)), key="imp_period")

t_kpi, t_acc, t_rev, t_avoid, t_ops, t_bench = st.tabs(
    ["KPIs", "Accuracy", "Rule reviews", "Cost avoidance", "Cost to operate", "Benchmarks"])

metrics = kpis.dispute_metrics(con, user)
totals = kpis.dispute_totals(metrics)
adoption = kpis.adoption(con, user)
with t_kpi:
    row = totals.filter(pl.col("period") == period)
    m1, m2, m3 = st.columns(3)
    m1.metric("Disputes", plain(int(row["disputes"][0]) if row.height else 0))
    m2.metric("Amount disputed", money(row["amount_disputed"][0] if row.height else 0))
    rate = row["dispute_rate_pct"][0] if row.height else None
    m3.metric("Dispute rate", "—" if rate is None else f"{rate:.2f}%")
    st.subheader("Disputes per month and business unit")
    st.dataframe(metrics, hide_index=True, width="stretch")
    st.subheader("Adoption over time")
    st.dataframe(adoption, hide_index=True, width="stretch")

with t_acc:
    st.caption("Forecast vs actual per cost centre, backtested as of the 10th and 20th of each past month.")
    if st.button("Compute accuracy", key="acc_run"):
        acc = accuracy.accuracy(con, user, period)
        st.metric("MAPE over every forecast", "—" if acc.total_mape is None else f"{acc.total_mape:.1f}%")
        st.dataframe(acc.by_period, hide_index=True, width="stretch")
        st.dataframe(acc.by_quarter, hide_index=True, width="stretch")
        st.dataframe(acc.by_cost_center, hide_index=True, width="stretch")
    st.subheader("Plan vs actual")
    st.dataframe(accuracy.plan_vs_actual(con, user), hide_index=True, width="stretch")

with t_rev:
    review_status = reviews.overview(con)
    flagged = review_status.filter(pl.col("flagged")).height
    st.metric(plain(f"Not reviewed for {reviews.REVIEW_DAYS} days"), plain(flagged))
    st.dataframe(review_status, hide_index=True, width="stretch")
    if lead and review_status.height:
        with st.form("rule_review"):
            subjects = [(r["rule_set"], r["pool"]) for r in review_status.iter_rows(named=True)]
            pick = st.selectbox("Subject", range(len(subjects)), key="rev_subject",
                                format_func=lambda i: subjects[i][0] + (f" · pool {subjects[i][1]}"
                                                                         if subjects[i][1] else " (rule set)"))
            checked = st.text_area("What was checked", key="rev_checked")
            decision = st.radio("Decision", reviews.DECISIONS, key="rev_decision", horizontal=True)
            if st.form_submit_button("Record review"):
                try:
                    r = reviews.review(con, user, subjects[pick][0], checked, decision, pool=subjects[pick][1])
                    opened = f"; draft v{r.draft_version} opened" if r.draft_version else ""
                    st.success(plain(f"Review recorded{opened}."))
                except ApportionError as exc:
                    st.error(plain(str(exc)))

with t_avoid:
    got = avoidance.avoided(con, user, period)
    st.metric("Avoided this month", money(got.filter(pl.col("period") == period)["avoided"].sum() if got.height else 0))
    st.dataframe(got, hide_index=True, width="stretch")
    moved = avoidance.moved_between_teams(con, period)
    st.caption(plain(f"Moved between teams by the allocation (not avoided): {moved['moved']:,.2f}; "
                     f"net change of the bill {moved['net']:+,.2f}."))
    if lead:
        with st.form("decommission"):
            asset_id = st.text_input("Decommissioned asset id", key="av_asset")
            start = st.text_input("First month without it (YYYY-MM)", key="av_from")
            if st.form_submit_button("Record decommissioning"):
                try:
                    avoidance.record_decommission(con, user, asset_id.strip(), start.strip())
                    st.success("Recorded.")
                except ApportionError as exc:
                    st.error(plain(str(exc)))

with t_ops:
    c = operating.cost_to_operate(con, period)
    o1, o2, o3 = st.columns(3)
    o1.metric(plain(operating.POOL), money(c.total))
    o2.metric("Share of allocated spend", "—" if c.share_pct is None else f"{c.share_pct:.3f}%")
    o3.metric("Measured run time", plain(f"{c.run_seconds:.1f} s over {c.runs} run(s)"))
    st.subheader("Automation opportunities")
    st.dataframe(pl.DataFrame(c.opportunities, schema=["opportunity", "count"], orient="row"), hide_index=True)
    if lead:
        with st.form("operating_cost"):
            kind = st.selectbox("Kind", operating.KINDS, key="ops_kind")
            qty = st.number_input("Quantity (hours, 1 for an amount, steps)", min_value=0.0, key="ops_qty")
            rate_in = st.number_input("Rate (per hour, or the amount)", min_value=0.0, key="ops_rate")
            if st.form_submit_button("Add entry"):
                try:
                    operating.enter(con, user, period, kind, str(qty), str(rate_in))
                    st.rerun()
                except ApportionError as exc:
                    st.error(plain(str(exc)))

with t_bench:
    values = benchmarks.measures(con, period)
    tot = totals.filter(pl.col("period") == period)
    values["dispute_rate_pct"] = tot["dispute_rate_pct"][0] if tot.height else None
    ad = adoption.filter(pl.col("period") == period)
    values["tag_coverage_pct"] = ad["coverage_pct"][0] if ad.height and "coverage_pct" in ad.columns else None
    values["statements_opened_pct"] = ad["opened_pct"][0] if ad.height and "opened_pct" in ad.columns else None
    values.setdefault("forecast_mape_pct", None)
    bands = benchmarks.bands(con)
    st.dataframe(pl.DataFrame([{"kpi": b.label, "value": values.get(b.kpi), "on_target": b.good, "near_target": b.fair,
                                "better": b.direction, "rating": b.rate(values.get(b.kpi)), "source": b.source}
                               for b in bands]), hide_index=True, width="stretch")
    if lead:
        with st.form("kpi_band"):
            kpi = st.selectbox("KPI", [b.kpi for b in bands], key="band_kpi",
                               format_func=lambda k: benchmarks.SEED[k].label)
            good = st.number_input("On target at", key="band_good")
            fair = st.number_input("Near target at", key="band_fair")
            if st.form_submit_button("Save target"):
                try:
                    benchmarks.set_band(con, user, kpi, good, fair)
                    st.rerun()
                except ApportionError as exc:
                    st.error(plain(str(exc)))
