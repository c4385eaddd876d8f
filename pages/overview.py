"""Executive overview: where the money goes, what changed, how much is untagged, how much is recovered."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from engine.access import users
from engine.errors import ApportionError
from engine.frames import py_column
from engine.insights import comparison
from engine.insights.anomalies import workflow
from engine.insights.anomalies.workflow import KIND_TITLES, RULE_TITLES, span_text
from engine.insights.forecast import budget as forecast_budget
from engine.insights.forecast import series as forecast_series
from ui import cache, charts
from ui.auth import require_role
from ui.db import data_version, db
from ui.empty import empty_state
from ui.formats import metric_delta, money, pct, plain
from ui.navigation import roles_for

user = require_role(*roles_for("overview"))

con = db()
version = data_version()
health = cache.period_health(cache.db_path(), version)   # the periods in order, each with its health
periods = list(health)
st.title("Executive overview")
if not periods:
    empty_state()
    st.stop()

stray = [p for p in periods if health[p].stray]
regular = [p for p in reversed(periods) if p not in stray]
choices = regular + [p for p in reversed(periods) if p in stray]   # stray months last, flagged
c1, c2 = st.columns([1, 2])
period = c1.selectbox("Billing period", choices, key="overview_period",
                      format_func=lambda p: f"{p} · stray rows only" if p in stray else p)
models = list(comparison.PRESETS_BY_NAME)
rec_scenario = c2.selectbox("Chargeback model for recovery", models, index=models.index(comparison.HOUSE_MODEL),
                            key="overview_scenario",
                            help="The approved house models. Saved workshop scenarios are drafts: compare them on "
                                 "Scenario comparison.")
if period in stray:
    st.warning(plain(f"{period} holds only stray rows ({health[period].reason}): a handful of late or misdated "
                     "lines, not a month of spend. It is left out of the trend charts and never used as a "
                     "comparison month."))
f = cache.overview_figures(cache.db_path(), version, user.username, period, rec_scenario)
k, rec = f["kpis"], f["recovery"]

prior = {"no data": f"no data for {k.previous_period}",
         "stray": f"{k.previous_period} holds only stray rows"}.get(k.previous_state)
m = st.columns(4)
m[0].metric("Total spend", money(k.total, compact=True),
            **metric_delta(k.change_pct, pct(k.change_pct) + plain(f" vs {k.previous_period}")),
            help=plain(f"Compared with the calendar month before, {k.previous_period}"
                       + (f": {prior}." if prior else ".")))
if prior:
    m[0].caption(plain(f"No comparison: {prior}."))
m[1].metric("Untagged", pct(k.untagged_pct), help="Share of effective cost with no cost-centre tag.")
m[2].metric("Unattributed", pct(k.unattributed_pct),
            help="Share with no cost centre by direct attribution: neither a valid cost-centre tag nor an account "
                 "owner. Allocation may still place it (application tag, CMDB, spread); what it cannot place is "
                 "the Unallocated line.")
m[3].metric("Run-rate forecast (next month)", money(k.run_rate_forecast, compact=True),
            help="This month grown by the average monthly growth over the two calendar months before.")
if rec is not None:
    st.caption(plain(f"Allocation: {rec.rule_set} v{rec.rule_version}, the approved rule version in force for "
                     f"{period}. Charged = what consumers are charged under '{rec_scenario}', the Unallocated line "
                     "excluded (it is carried centrally)."))
    r = st.columns(4)
    r[0].metric("Allocated", pct(rec.allocated_pct), help="Share of the month's cost posted to a cost centre.")
    r[1].metric("Unallocated line", money(rec.unallocated, compact=True),
                help="Cost no rule could place: posted to UNALLOCATED and carried centrally.")
    r[2].metric("Cost recovered", pct(rec.recovered_pct),
                help=plain(f"Invoiced under '{rec_scenario}' ÷ cost (showback invoices nothing)."))
    r[3].metric("Charged", money(rec.charged, compact=True),
                help="Charged to consumers, excluding the Unallocated line.")
else:
    st.caption("This month has not been closed under the approved rule version in force yet: allocation and "
               "recovery appear after month close.")

POLL_SECONDS = 10   # an executive sees a new flag within seconds of an ingest; each tick costs a room little


@st.fragment(run_every=POLL_SECONDS)
def watch_flags(seen: str) -> None:
    """Live: every few seconds one cheap query (the flags' version); the page reruns only when it moved (an ingest,
    a triage). The watcher draws nothing, so a tick costs the server one query and the browser next to nothing —
    the panel used to be this fragment and was redrawn on every tick: 0.7 CPU-s on the server and 1.1 in chromium
    per 10 s for each idle overview, most of a room's CPU (docs/reliability.md "Serving a room")."""
    if workflow.flags_version(db(), user) != seen:
        st.rerun()


def anomaly_panel(flags_version: str) -> None:
    """Open anomalies: the largest five by excess, recomputed only when the flags' version moved."""
    s = cache.flag_summary(cache.db_path(), flags_version, user.username)
    st.subheader("Open anomalies")
    a = st.columns(4)
    a[0].metric("Open anomalies", f"{s['active']:,}", help="Detected, not yet resolved or dismissed (all months).")
    a[1].metric("Amount at risk", money(s["at_risk"], compact=True),
                help="Summed excess over expected of the open anomalies.")
    a[2].metric("Over budget", f"{s['over_budget']:,}",
                help="Cost centres whose closed month crossed their budget (open budget flags; Anomalies page).")
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


flags_seen = workflow.flags_version(con, user)
anomaly_panel(flags_seen)
watch_flags(flags_seen)


@st.cache_data(show_spinner="Forecasting…", max_entries=32, ttl=3600)
def budget_view(db_path: str, version: str, username: str, period: str, as_of: date) -> forecast_budget.BudgetView:
    """Budget vs forecast vs actual, once per data version, user, period and as-of day (pure over the store)."""
    return forecast_budget.view(db(), users.get_user(db(), username), period, as_of)


def forecast_table(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """The columns an executive reads; the intervals as one text column each (formatted in Python, engine.frames)."""
    def band(out: str, lo: str, hi: str) -> pl.Series:
        return py_column(df, out, lambda a, b: f"{money(a, compact=True)} – {money(b, compact=True)}", lo, hi,
                         dtype=pl.Utf8(), skip_nulls=False)
    return df.with_columns(band("month_end_band", "month_end_lo", "month_end_hi"),
                           band("next_quarter_band", "next_quarter_lo", "next_quarter_hi")).select(
        pl.col(name), pl.col("budget", "to_date").cast(pl.Float64), pl.col("month_end"),
        pl.col("month_end_band"), pl.col("variance_pct"), pl.col("status"),
        pl.col("next_quarter"), pl.col("next_quarter_band"), pl.col("mape", "bias").round(1))


FORECAST_COLUMNS = {
    "business_unit": "Business unit", "cost_center": "Cost centre",
    "budget": st.column_config.NumberColumn("Budget", format="dollar"),
    "to_date": st.column_config.NumberColumn("Actual to date", format="dollar"),
    "month_end": st.column_config.NumberColumn("Month-end forecast", format="dollar"),
    "month_end_band": "80% interval", "variance_pct": st.column_config.NumberColumn("vs budget %", format="%.1f"),
    "status": "Over / under", "next_quarter": st.column_config.NumberColumn("Next quarter", format="dollar"),
    "next_quarter_band": "Next quarter 80%",
    "mape": st.column_config.NumberColumn("Backtest MAPE %", format="%.1f"),
    "bias": st.column_config.NumberColumn("Backtest bias %", format="%.1f"),
}

st.subheader("Budget, forecast and actual")
month_first, month_last = forecast_series.month_bounds(period)
latest = cache.last_day_with_data(cache.db_path(), version, user.username, period) or month_first
as_of = st.date_input("Forecast as of", value=min(max(latest, month_first), month_last), min_value=month_first,
                      max_value=month_last, key=f"overview_as_of_{period}",
                      help="The forecast reads only what the store held on this day.")
try:
    bv = budget_view(cache.db_path(), version, user.username, period, as_of)
except ApportionError as exc:
    st.info(plain(str(exc)))
else:
    st.dataframe(forecast_table(bv.by_business_unit, "business_unit"), hide_index=True, width="stretch",
                 column_config=FORECAST_COLUMNS, key="overview_forecast_bu")
    st.caption("Month-end = actual to date + known commitments on the remaining days + the run-rate with its "
               "weekly pattern; next quarter = the three months after. Backtest: each of the last 12 months "
               "forecast as of the 10th and the 20th against its closed actual (bias > 0: forecasts ran high). "
               "Actual and forecast are direct spend before allocation; a budget that includes shared-service "
               "shares or licences compares with the allocated cost on statements.")
    if bv.closed:
        st.caption("The as-of day is the month's last day: the month-end forecast is the actual.")
    with st.expander("By cost centre"):
        st.dataframe(forecast_table(bv.by_cost_center, "cost_center").with_columns(
            bv.by_cost_center["business_unit"]).select("business_unit", pl.exclude("business_unit")),
            hide_index=True, width="stretch", column_config=FORECAST_COLUMNS, key="overview_forecast_cc")

st.subheader("Spend by business unit")
if stray:
    st.caption(plain(f"Left out of the trends: {', '.join(stray)} (stray rows only)."))
spend = f["spend"].filter(~pl.col("period").is_in(stray))
charts.render(charts.stacked_spend(spend), spend)

left, right = st.columns(2)
with left:
    st.subheader("Top movers by business unit")
    if prior:
        st.caption(plain(f"No movers: {prior}."))
    else:
        charts.render(charts.movers(f["movers_bu"], "Business unit"), f["movers_bu"])
with right:
    st.subheader("Top movers by service")
    if prior:
        st.caption(plain(f"No movers: {prior}."))
    else:
        charts.render(charts.movers(f["movers_service"], "Service"), f["movers_service"])

st.subheader("Untagged share of spend")
untagged = f["untagged"].filter(~pl.col("period").is_in(stray))
charts.render(charts.share_line(untagged, "untagged_pct", "Untagged %"), untagged)
