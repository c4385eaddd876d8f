"""Scenario comparison: two to five cost models side by side over a posted month."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from engine.insights import comparison
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import axis_currency_format, metric_delta, money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("scenarios"))

con = db()
st.title("Scenario comparison")
periods = comparison.posted_periods(con)
if not periods:
    empty_state("posted allocation run")
    st.stop()
options = comparison.available(con)
names = list(options)

c1, c2, c3 = st.columns([1, 1, 2])
period = c1.selectbox("Period", list(reversed(periods)), key="sc_period")
by = c2.selectbox("Compare by", ["business_unit", "cost_center", "application"], key="sc_by",
                  format_func=lambda v: v.replace("_", " ").capitalize())
chosen = c3.multiselect("Scenarios (2–5)", names, default=names[:3], max_selections=5, key="sc_chosen")
if len(chosen) < 2:
    st.info("Pick at least two scenarios to compare.")
    st.stop()
baseline = st.selectbox("Baseline", chosen, key="sc_baseline")

out = comparison.compare_period(con, user, period, [options[n] for n in chosen], baseline, by)  # type: ignore[arg-type]

st.subheader(plain("Charge per " + by.replace("_", " ")))
wide = out.pivot(on="scenario", index="name", values="charge", aggregate_function="sum").sort("name")
st.dataframe(wide, hide_index=True, width="stretch",
             column_config={n: st.column_config.NumberColumn(n, format="dollar") for n in chosen})

central = comparison.carried_centrally(out)
st.caption("Charged = what consumers are charged under each scenario, the Unallocated line excluded (it is "
           "carried centrally, see *Where the money went*). Showback invoices nothing: its figure is what "
           "consumers are shown.")
cols = st.columns(len(chosen))
base_charged = central.filter(pl.col("scenario") == baseline)["charged"].sum()
for col, name in zip(cols, chosen, strict=True):
    charged = central.filter(pl.col("scenario") == name)["charged"].sum()
    col.metric(plain(name), money(charged, compact=True),
               **(metric_delta(charged - base_charged, money(charged - base_charged, compact=True) + " vs baseline",
                               delta_color="off") if name != baseline else {"delta": None}))

st.subheader("Where the money went")
st.dataframe(central, hide_index=True, width="stretch", key="sc_central", column_config={
    "scenario": "Scenario", "charged": st.column_config.NumberColumn("Charged", format="dollar"),
    "subsidy": st.column_config.NumberColumn("Subsidies (carried centrally)", format="dollar"),
    "commitment_central": st.column_config.NumberColumn(
        "Commitments kept central", format="dollar",
        help="Unused commitment IT keeps; under on-demand equivalent, net of the savings IT keeps because "
             "consumers pay their covered usage at on-demand prices (negative: IT keeps more than it carries)."),
    "unallocated": st.column_config.NumberColumn("Unallocated line", format="dollar"),
    "allocated": st.column_config.NumberColumn("Allocated cost", format="dollar")})
st.caption("Charged + subsidies + commitments kept central + Unallocated line = allocated cost + markup, penalties "
           "and rate-card variance.")

others = [n for n in chosen if n != baseline]
target = st.selectbox("Waterfall to", others, index=len(others) - 1, key="sc_target")
wf = comparison.waterfall(out, baseline, target)
fmt = axis_currency_format()
colour = alt.Color("kind:N", scale=alt.Scale(domain=["total", "increase", "decrease"],
                                             range=["#4C78A8", "#E45756", "#54A24B"]), legend=None)
st.subheader(plain(f"From {baseline} to {target}"))
st.altair_chart(
    alt.Chart(wf).mark_bar().encode(
        x=alt.X("label:N", sort=alt.SortField("order"), title=None),
        y=alt.Y("start:Q", title="Charge", axis=alt.Axis(format=fmt)), y2="end:Q", color=colour,
        tooltip=[alt.Tooltip("label:N"), alt.Tooltip("value:Q", format=fmt)],
    ).properties(height=300),
    width="stretch",
)

st.subheader("Why each unit's charge moved")
steps = [(c, label) for c, label in comparison.WATERFALL_STEPS if c in out.columns]
decomp = out.filter(pl.col("scenario") == target).select("name", "charge", "delta", *[c for c, _ in steps])
st.dataframe(decomp, hide_index=True, width="stretch", key="sc_decomp", column_config={
    "name": plain(by.replace("_", " ").capitalize()),
    "charge": st.column_config.NumberColumn("Charge", format="dollar"),
    "delta": st.column_config.NumberColumn("Change", format="dollar"),
    **{c: st.column_config.NumberColumn(plain(label), format="dollar") for c, label in steps}})
