"""Anomalies: what cost more than expected, the lines that carry it, who is on it, and its ticket."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

import polars as pl
import streamlit as st

from engine.access import grants, policy
from engine.errors import ApportionError
from engine.governance.budgets import RULE as BUDGET
from engine.insights import explorer, overview
from engine.insights.anomalies import decompose, spend_split, thresholds, workflow
from engine.insights.anomalies.allocation_change import RULE as ALLOCATED
from engine.insights.anomalies.scan import LEVELS
from engine.insights.anomalies.why import Split
from engine.insights.anomalies.workflow import (
    KIND_TITLES,
    MONTH_RULES,
    NEXT,
    PATTERNS,
    RULE_TITLES,
    STATUSES,
    span_text,
)
from engine.outputs.tickets import targets_for
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("anomalies"))

STATUS_TITLES = {"active": "Active (open, acknowledged, ticketed)", "all": "All", "open": "Open",
                 "acknowledged": "Acknowledged", "ticketed": "Ticketed", "resolved": "Resolved",
                 "false_positive": "False positive"}
ACTION_TITLES = {"acknowledged": "Acknowledge (take ownership)", "resolved": "Resolve",
                 "false_positive": "False positive"}
PATTERN_TITLES = {"none": "No: just this one", "any_day": "Yes: this scope and rule, any day",
                  "weekday": "Yes: this scope and rule, on the same weekday",
                  "day_of_month": "Yes: this scope and rule, on the same day of the month"}
MONEY = st.column_config.NumberColumn(format="dollar")

con = db()
st.title("Anomalies")
periods = overview.periods(con)
if not periods:
    empty_state()
    st.stop()
can_triage = policy.can(user, "triage_anomalies")
if user.scoped:
    st.caption(plain(f"Scoped to your cost centres: {', '.join(sorted(user.cost_centers or []))}"))
if not can_triage:
    st.caption("Read only: FinOps, admins and the owning app owners triage anomalies.")

notice = st.session_state.pop("anomaly_notice", None)
if notice:
    st.success(plain(notice))

if policy.can(user, "tune_detectors"):
    with st.expander(plain(f"Detector thresholds (version {thresholds.current_version(con)})")):
        st.caption("The most specific threshold wins: the scope, then every scope of its kind ('*'), then the "
                   "defaults (k 3.5, floor $50 a day, +50 % week over week, +30 % month over month).")
        in_force = thresholds.in_force(con)
        if in_force:
            st.dataframe(pl.DataFrame([{"scope kind": k, "scope": i, **vars(t)} for (k, i), t in in_force.items()]),
                         hide_index=True, width="stretch")
        with st.form("anomaly_thresholds"):
            c1, c2 = st.columns(2)
            kind = c1.selectbox("Scope kind", [*LEVELS, thresholds.ANY], key="thr_kind")
            scope_id = c2.text_input("Scope id ('*' for every scope of the kind)", value="*", key="thr_scope")
            t1, t2, t3, t4 = st.columns(4)
            k = t1.number_input("k (robust z)", min_value=0.1, value=3.5, step=0.5, key="thr_k")
            floor = t2.number_input("Floor ($ a day)", min_value=0.0, value=50.0, step=10.0, key="thr_floor")
            weekly = t3.number_input("Week over week", min_value=0.05, value=0.5, step=0.1, key="thr_weekly")
            monthly = t4.number_input("Month over month", min_value=0.05, value=0.3, step=0.1, key="thr_monthly")
            reason = st.text_input("Why", key="thr_reason")
            if st.form_submit_button("Save thresholds (new version)"):
                try:
                    v = thresholds.set_threshold(con, user, kind, scope_id, thresholds.Threshold(
                        float(k), float(floor), float(weekly), float(monthly)), reason)
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.session_state["anomaly_notice"] = f"Thresholds version {v} saved; the next detection uses it."
                    st.rerun()

f0, f1, f2, f3 = st.columns(4)
what = f0.selectbox("Kind", ["spend", "budget", "all"], key="anomaly_what",
                    format_func={"spend": "Spend anomalies", "budget": "Budget overruns", "all": "All"}.__getitem__)
status = f1.selectbox("Status", ["active", "all", *STATUSES], format_func=STATUS_TITLES.__getitem__,
                      key="anomaly_status")
period = f2.selectbox("Billing period", ["All", *reversed(periods)], key="anomaly_period")
kind = f3.selectbox("Scope", ["All", *LEVELS], key="anomaly_kind",
                    format_func=lambda k: "All" if k == "All" else KIND_TITLES[k])
rows = workflow.list_anomalies(con, user, None if status == "all" else status, None if period == "All" else period,
                               scope_kind=None if kind == "All" else kind,
                               exclude_rules=(BUDGET,) if what == "spend" else ())
if what == "budget":
    rows = rows.filter(pl.col("rule") == BUDGET)
if rows.is_empty():
    st.info("No anomalies match these filters. New bills are checked as they are loaded, and each month again when "
            "it is closed.")
    st.stop()

shown = rows.with_columns(
    pl.col("scope_kind").replace_strict(KIND_TITLES, default=pl.col("scope_kind")).alias("scope"),
    pl.Series("when", [span_text(r, f, t) for r, f, t in rows.select("rule", "first_date", "last_date").rows()]),
    pl.col("rule").replace_strict(RULE_TITLES, default=pl.col("rule")),
    pl.col("status").replace_strict(STATUS_TITLES, default=pl.col("status")),
).select("anomaly_id", "scope", "scope_name", "when", "excess", "actual", "expected", "rule", "status", "owner",
         "cost_center", "ticket_ref")
st.dataframe(shown, hide_index=True, width="stretch", column_config={
    "anomaly_id": "Anomaly", "scope": "Scope", "scope_name": "Name", "when": "When",
    "excess": st.column_config.NumberColumn("Excess", format="dollar"),
    "actual": st.column_config.NumberColumn("Actual", format="dollar"),
    "expected": st.column_config.NumberColumn("Expected", format="dollar"), "rule": "Rule", "status": "Status",
    "owner": "Owner", "cost_center": "Cost centre", "ticket_ref": "Ticket"})

labels = {r["anomaly_id"]: f"{r['anomaly_id']} · {r['period']} · {KIND_TITLES[r['scope_kind']]} {r['scope_name']}"
          for r in rows.iter_rows(named=True)}
pick = st.selectbox("Anomaly", list(labels), format_func=labels.__getitem__, key="anomaly", bind="query-params")
try:
    a = workflow.get_anomaly(con, user, pick)
except ApportionError as exc:
    st.error(plain(exc))
    st.stop()

kind_title = KIND_TITLES[a.scope_kind]
days = span_text(a.rule, a.first_date, a.last_date)
st.subheader(plain(f"{a.anomaly_id}: {kind_title.lower()}, {a.period}"))
st.text(f"{kind_title}: {a.scope_name}" + ("" if a.scope_name == a.scope_id else f" ({a.scope_id})"))
st.text(f"Cost centre: {a.cost_center or a.cost_center_id or 'several or none'} · Rule: "
        f"{RULE_TITLES.get(a.rule, a.rule)} · {days} ({a.flagged_days} flagged)")
st.text(f"Status: {STATUS_TITLES[a.status]}" + (f" · owner {a.owner}" if a.owner else "")
        + (f" · ticket {a.ticket_ref}" if a.ticket_ref else "") + (f" · {a.comment}" if a.comment else ""))
m = st.columns(4)
m[0].metric("Actual", money(a.actual))
m[1].metric("Expected", money(a.expected))
m[2].metric("Excess", money(a.excess))
m[3].metric("Flagged", plain(f"{a.flagged_days} {'month' if a.rule in MONTH_RULES else 'day'}"
                             f"{'' if a.flagged_days == 1 else 's'}"))

st.subheader("Why it moved")
why: Split | None = None
try:
    if a.rule == ALLOCATED:
        why = decompose.for_anomaly(con, user, a.anomaly_id).split
        st.caption("The allocated charge against the month before, re-run with one input of the month swapped at "
                   "a time (usage, unit rate, driver values, master data, rule version); the parts add up to the "
                   "posted change to the cent.")
    else:
        why = spend_split.split_spend(con, user, a.anomaly_id)
        st.caption("The scope's effective cost against the days before (as below): usage is the new quantity at "
                   "the old unit price, unit rate the new price on the new quantity; lines that appeared or "
                   "vanished are their own parts. The parts add up to the change to the cent.")
except ApportionError as exc:
    st.info(plain(exc))
if why is not None:
    st.info(plain(why.sentence(lambda c: ("+" if c >= 0 else "") + money(Decimal(c).scaleb(-2)))),
            icon=":material/insights:")
    st.dataframe(why.frame(), hide_index=True, width="content", column_config={
        "part": "Part", "amount": st.column_config.NumberColumn("Amount", format="dollar"),
        "share_pct": st.column_config.NumberColumn("Share of the change", format="%.1f %%")})

st.subheader("What carries it")
st.caption("Lines of this scope, largest excess first: the incident's days against the days before (the 4 weeks "
           "before a daily anomaly, the 3 months before a monthly one), scaled to the same length.")
lines = (workflow.drivers(con, user, a.anomaly_id) if grants.can_see_resource_lines(con, user)
         else None)
if lines is None:
    st.info("Executives see the incident's totals; its resource lines need a grant from an admin (Users).")
elif lines.is_empty():
    st.info("No cost lines of this scope in these days any more (a re-delivered bill may have replaced them).")
else:
    st.dataframe(lines, hide_index=True, width="stretch", column_order=[
        "resource_id", "excess", "cost_before", "cost_after", "quantity_before", "quantity_after", "unit_price_before",
        "unit_price_after", "unit", "service", "sku"], column_config={
        "resource_id": "Resource", "service": "Service", "sku": "SKU", "unit": "Unit",
        "cost_before": st.column_config.NumberColumn("Cost before", format="dollar"),
        "cost_after": st.column_config.NumberColumn("Cost in the anomaly", format="dollar"),
        "excess": st.column_config.NumberColumn("Excess", format="dollar"),
        "quantity_before": st.column_config.NumberColumn("Quantity before", format="%.2f"),
        "quantity_after": st.column_config.NumberColumn("Quantity in the anomaly", format="%.2f"),
        "unit_price_before": st.column_config.NumberColumn("Unit price before", format="%.6f"),
        "unit_price_after": st.column_config.NumberColumn("Unit price in the anomaly", format="%.6f")})
    resources = [r for r in lines["resource_id"].to_list() if r != "(none)"]
    if resources:
        st.subheader("Resource day by day")
        res = st.selectbox("Resource", resources, key=f"anomaly_resource_{a.anomaly_id}")
        daily = explorer.resource_daily(con, user, a.period, res)
        st.caption(plain(f"Daily effective cost, consumed quantity and unit price in {a.period}."))
        if daily.is_empty():
            st.info("No cost for this resource in that month.")
        else:
            one_unit = daily["unit"].n_unique() == 1
            cost, quantity = float(daily["cost"].cast(pl.Float64).sum()), float(daily["quantity"].sum() or 0)
            r = st.columns(3)
            r[0].metric("Resource cost in the month", money(cost))
            r[1].metric("Quantity", f"{quantity:,.2f}" if one_unit else "several units",
                        help="Consumed quantity, in the unit of the table below.")
            r[2].metric("Average unit price", f"{cost / quantity:,.6f}" if one_unit and quantity else "–",
                        help="Effective cost ÷ consumed quantity.")
            st.bar_chart(daily.with_columns(pl.col("cost").cast(pl.Float64)), x="day", y="cost", x_label="Day",
                         y_label="Effective cost", height=220)
            st.dataframe(daily, hide_index=True, width="stretch", column_config={
                "day": "Day", "unit": "Unit", "cost": st.column_config.NumberColumn("Cost", format="dollar"),
                "quantity": st.column_config.NumberColumn("Quantity", format="%.2f"),
                "unit_price": st.column_config.NumberColumn("Unit price", format="%.6f")})

left, right = st.columns(2)
with left:
    st.subheader("Flagged " + ("months" if a.rule in MONTH_RULES else "days"))
    st.dataframe(workflow.flags_of(con, user, a.anomaly_id), hide_index=True, width="stretch", column_config={
        "actual": MONEY, "expected": MONEY, "excess": MONEY})
with right:
    st.subheader("Transitions")
    trail = workflow.history(con, user, a.anomaly_id)
    if trail.is_empty():
        st.caption("Detected; nobody has triaged it yet.")
    else:
        st.dataframe(trail, hide_index=True, width="stretch")

if can_triage and a.active:
    st.subheader("Triage")
    choices = list(NEXT[a.status])
    with st.form(f"triage_{a.anomaly_id}"):
        action = st.radio("Move to", choices, format_func=ACTION_TITLES.__getitem__, key="triage_action",
                          horizontal=True)
        owner = st.text_input("Owner", value=a.owner or user.username, key="triage_owner")
        comment = st.text_area("Comment (recorded in the audit trail)", key="triage_comment")
        pattern = st.radio("For a false positive: stop flagging this pattern?", ["none", *PATTERNS],
                           format_func=PATTERN_TITLES.__getitem__, key="triage_pattern")
        if st.form_submit_button("Apply", type="primary"):
            wanted = pattern if action == "false_positive" and pattern != "none" else None
            try:
                done = workflow.transition(con, user, a.anomaly_id, action, comment=comment, owner=owner,
                                           pattern=wanted)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.session_state["anomaly_notice"] = f"{done.anomaly_id} is now {STATUS_TITLES[done.status].lower()}."
                st.rerun()

    targets = [t.name for t in targets_for(con, a.cost_center_id)]
    if a.ticket_ref:
        st.text(f"Ticket {a.ticket_ref}" + (f": {a.ticket_url}" if a.ticket_url else ""))
    elif targets:
        t1, t2 = st.columns([2, 1])
        target = t1.selectbox("Ticket system", targets, key="anomaly_ticket_target")
        if t2.button("Open ticket", key="anomaly_open_ticket", icon=":material/confirmation_number:"):
            url = st.context.url or ""
            parts = urlsplit(url)
            link = f"{parts.scheme}://{parts.netloc}/anomalies?anomaly={a.anomaly_id}" if parts.netloc else None
            try:
                ticket = workflow.open_ticket_for(con, a.anomaly_id, target, user, link=link)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                if ticket.is_open:
                    st.session_state["anomaly_notice"] = f"{a.anomaly_id} is ticketed."
                    st.rerun()
                st.warning("The ticket system did not answer in time: the ticket is queued and will be sent again.")
    else:
        st.caption("No ticket system takes this cost centre's tickets (FinOps configures ticket targets).")
elif not a.active:
    st.caption("This anomaly is closed.")
