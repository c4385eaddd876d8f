"""Chargeback statements per cost centre, with CSV / XLSX / printable HTML downloads."""

from __future__ import annotations

import streamlit as st

from engine.access import policy
from engine.access.scope import visible_business_units, visible_cost_centers
from engine.access.statement_access import statement_for
from engine.improvement import kpis
from engine.insights import comparison
from engine.outputs import statements
from ui.auth import require_role
from ui.db import db
from ui.downloads import XLSX, download
from ui.empty import empty_state
from ui.formats import money, plain
from ui.navigation import roles_for

user = require_role(*roles_for("statements"))

con = db()
st.title("Statements")
periods = comparison.posted_periods(con)
centres = visible_cost_centers(con, user)
if not periods or not centres:
    empty_state("posted allocation run")
    st.stop()
options = comparison.available(con)

level = ("Cost centre" if user.scoped else
         st.radio("Statement for", ["Cost centre", "Business unit"], horizontal=True, key="stmt_level"))
c1, c2, c3 = st.columns(3)
period = c1.selectbox("Period", list(reversed(periods)), key="stmt_period")
if level == "Business unit":
    units = visible_business_units(con, user)
    cc = c2.selectbox("Business unit", [u for u, _ in units], key="stmt_bu",
                      format_func=lambda u: f"{u} · {dict(units)[u]}")
else:
    cc = c2.selectbox("Cost centre", [c for c, _ in centres], key="stmt_cc",
                      format_func=lambda c: f"{c} · {dict(centres)[c]}")
scenario_name = c3.selectbox("Scenario", list(options), index=min(1, len(options) - 1), key="stmt_scenario")

stmt = statement_for(con, user, period, cc, options[scenario_name])
if user.scoped and level == "Cost centre":   # an owner opening their statement counts for adoption (first view)
    kpis.record_view(con, user, period, cc)
for line in stmt.header_lines():
    st.caption(plain(line))
change = stmt.charge_change
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Allocated cost", money(stmt.allocated))
m2.metric("Subsidy", money(-stmt.subsidy) if stmt.subsidy else money(0))
m3.metric("Markup + penalty", money(stmt.markup + stmt.penalty))
m4.metric("Charge", money(stmt.charge), delta=None if change is None else money(change) + " vs prior month",
          delta_color="inverse")
m5.metric(plain(f"Charge {stmt.prior.period}"), "no posted run" if stmt.prior.charge is None
          else money(stmt.prior.charge))
money_col = {"amount": st.column_config.NumberColumn("Amount", format="dollar"),
             "prior_amount": st.column_config.NumberColumn(f"{stmt.prior.period} (prior month)", format="dollar"),
             "change": st.column_config.NumberColumn("Change", format="dollar")}
st.dataframe(stmt.lines, hide_index=True, width="stretch", column_config=money_col)
for adj in stmt.lines.filter(stmt.lines["section"] == statements.DISPUTE_SECTION).iter_rows(named=True):
    st.caption(plain(f"{adj['step_name']} (accepted dispute): {money(adj['amount'])}"))

flag_lines = stmt.flag_lines()
if flag_lines:
    st.subheader("Open anomalies")
    st.caption(plain(flag_lines[0]))
    for title in flag_lines[1:]:
        st.text(title)

base = f"statement_{cc}_{period}"
d1, d2, d3 = st.columns(3)
download(d1, "CSV", lambda: statements.to_csv(stmt), f"{base}.csv", "text/csv")
download(d2, "Excel", lambda: statements.to_xlsx(stmt), f"{base}.xlsx", XLSX)
download(d3, "Printable HTML", lambda: statements.to_html(stmt), f"{base}.html", "text/html", icon=":material/print:")

if policy.can(user, "raise_dispute"):
    if st.button("Dispute this line", key="stmt_dispute", icon=":material/gavel:"):
        st.session_state["dispute_prefill"] = {"period": period, "cc": cc}
        st.switch_page("pages/disputes.py")
