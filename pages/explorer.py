"""Cost explorer: drill from business unit to resource; every posted amount explains itself."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import streamlit as st

from engine.access import grants
from engine.insights import explorer, overview
from engine.insights.anomalies import workflow
from engine.insights.explorer import LEVEL_TITLES, Filters
from ui import charts
from ui.auth import require_role
from ui.db import db
from ui.downloads import download_row
from ui.empty import empty_state
from ui.formats import metric_delta, money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("explorer"))

con = db()
st.title("Cost explorer")
if user.scoped:
    st.caption(plain(f"Scoped to your cost centres: {', '.join(sorted(user.cost_centers or []))}"))
st.caption("Amounts are each month's direct spend (cost-centre tag, else account owner). Shared services and "
           "untagged spend reach you through allocation: see *How the posted charge was built* below and Statements.")
periods = overview.periods(con)
if not periods:
    empty_state()
    st.stop()

path: dict[str, str] = st.session_state.setdefault("explorer_path", {})
f1, f2, f3, f4, f5 = st.columns([2, 2, 2, 2, 2])
stray = set(overview.stray_periods(con))
period = f1.selectbox("Billing period", list(reversed(periods)), key="explorer_period",
                      format_func=lambda p: f"{p} · stray rows only" if p in stray else p)
provider = f2.selectbox("Provider", ["All", *explorer.providers(con)], key="explorer_provider")
environment = f3.selectbox("Environment", ["All", *explorer.environments(con)], key="explorer_env")
tag_key = f4.selectbox("Tag", ["Any", *explorer.tag_keys(con)], key="explorer_tag_key")
tag_value = f5.text_input("Tag value", key="explorer_tag_value", disabled=tag_key == "Any",
                          help="Exact value; leave empty for any line that carries the tag.")
filters = Filters(dict(path), None if provider == "All" else provider, None if environment == "All" else environment,
                  None if tag_key == "Any" else tag_key, tag_value.strip() or None)

crumbs = st.columns(len(path) + 1 if path else 1)
if crumbs[0].button("All", key="crumb_root", type="tertiary"):
    path.clear()
    st.rerun()
for i, (crumb_level, value) in enumerate(list(path.items())):
    if crumbs[i + 1].button(plain(f"› {value}"), key=f"crumb_{crumb_level}", type="tertiary",
                          help=plain(LEVEL_TITLES[crumb_level])):
        keep = list(path)[: i + 1]
        for k in list(path):
            if k not in keep:
                del path[k]
        st.rerun()

level = filters.next_level()
if level in ("resource_id", None) and not grants.can_see_resource_lines(con, user):
    st.info("Executives see aggregates down to the service; resource lines need a grant from an admin (Users).")
    st.stop()
if level is None:
    resource = path["resource_id"]
    st.subheader("Resource day by day")
    st.text(resource)   # an id from the bill: shown as text
    daily = explorer.resource_daily(con, user, period, resource, filters)
    if daily.is_empty():
        st.info("This resource has no cost in this month.")
        st.stop()
    units = daily["unit"].unique().to_list()
    quantity = float(daily["quantity"].sum() or 0)
    cost = Decimal(daily["cost"].sum() or 0)
    r1, r2, r3 = st.columns(3)
    r1.metric("Cost this month", money(cost))
    r2.metric("Quantity", f"{quantity:,.2f}" if len(units) == 1 else "several units",
              help="Consumed quantity, in the unit of the table below.")
    r3.metric("Average unit price", f"{float(cost) / quantity:,.6f}" if len(units) == 1 and quantity else "–",
              help="Effective cost ÷ consumed quantity.")
    st.bar_chart(daily.with_columns(pl.col("cost").cast(pl.Float64)), x="day", y="cost", x_label="Day",
                 y_label="Effective cost", height=260)
    st.dataframe(daily, hide_index=True, width="stretch", column_config={
        "day": "Day", "unit": "Unit", "cost": st.column_config.NumberColumn("Cost", format="dollar"),
        "quantity": st.column_config.NumberColumn("Quantity", format="%.2f"),
        "unit_price": st.column_config.NumberColumn("Unit price", format="%.6f")})
    download_row(daily, f"resource_daily_{period}", "explorer_resource_dl")
    st.stop()

if period in stray:
    st.warning(plain(f"{period} holds only stray rows: a handful of late or misdated lines, not a month of spend."))
rows = explorer.breakdown(con, user, period, level, filters)
total, previous = Decimal(rows["cost"].sum() or 0), Decimal(rows["previous"].sum() or 0)
prev_period = overview.previous_period(period)
prev_data = explorer.has_lines(con, user, prev_period, filters)
m1, m2, m3 = st.columns(3)
m1.metric("Cost this month", money(total),
          **metric_delta(total - previous if prev_data else None,
                         money(total - previous) + plain(f" vs {prev_period}")),
          help=plain(f"Compared with the calendar month before, {prev_period}"
                     + ("." if prev_data else ": no data for that month.")))
if not prev_data:
    m1.caption(plain(f"No data for {prev_period}: no comparison."))
m2.metric(plain(LEVEL_TITLES[level] + "s"), len(rows))
m3.metric("Biggest mover", plain(rows.sort("delta", descending=True)["name"][0]) if not rows.is_empty() else "–")

st.subheader(plain(f"By {LEVEL_TITLES[level].lower()}"))
markers = workflow.open_markers(con, user, period, level)
shown = rows.with_columns(anomalies=pl.col("name").replace_strict(
    {n: f"⚠ {c} open" for n, c in markers.items()}, default="", return_dtype=pl.Utf8))
st.dataframe(shown, hide_index=True, width="stretch",
             column_config={"cost": st.column_config.NumberColumn("Cost", format="dollar"),
                            "previous": st.column_config.NumberColumn(
                                plain(f"{prev_period}" if prev_data else f"{prev_period} (no data)"),
                                format="dollar"),
                            "delta": st.column_config.NumberColumn("Change", format="dollar"),
                            "anomalies": st.column_config.TextColumn(
                                "Anomalies", help="Open anomalies of this row's name overlapping the month "
                                                  "(details on the Anomalies page).")})
download_row(rows, f"costs_{level}_{period}", "explorer_dl")
if not rows.is_empty():
    choice = st.selectbox(plain(f"Drill into {LEVEL_TITLES[level].lower()}"), rows["name"].to_list(), index=None,
                          key=f"drill_{level}", placeholder="Choose…")
    if choice:
        path[level] = choice
        st.rerun()

st.subheader("Trend")
trend = explorer.monthly(con, user, level, filters).filter(~pl.col("period").is_in(sorted(stray)))
charts.render(charts.stacked_spend(trend, LEVEL_TITLES[level]), trend)

if "cost_center" in path:
    st.subheader("How the posted charge was built")
    why = explorer.explain(con, user, period, path["cost_center"])
    if why.is_empty():
        st.caption("This month has no posted allocation run yet; the figures above are direct attribution.")
    else:
        st.dataframe(why, hide_index=True, width="stretch", column_order=[
            "step", "step_name", "source_pool", "method", "driver", "target", "cost_center", "application", "share",
            "posted_amount", "target_id", "cost_center_id", "app_id"], column_config={
            "step": "Step", "step_name": "Step name", "source_pool": "Pool", "method": "Method", "driver": "Driver",
            "target": "Target", "cost_center": "Cost centre", "application": "Application",
            "share": st.column_config.NumberColumn("Share", format="%.6f"),
            "posted_amount": st.column_config.NumberColumn("Posted", format="dollar"),
            "target_id": "Target id", "cost_center_id": "Cost centre id", "app_id": "Application id"})
