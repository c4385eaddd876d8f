"""Plan vs actual: import FP&A's plan per cost centre and period (all or nothing), compare with the allocation."""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.fiscal import calendar as fiscal_calendar
from engine.fiscal import plan
from engine.governance import budgets
from engine.settings import get_settings
from ui.auth import require_role
from ui.db import db
from ui.formats import money, plain
from ui.navigation import roles_for
from ui.pickers import periods_and_rule_sets

user = require_role(*roles_for("planning"))

con = db()
st.title("Plan vs actual")
periods, _ = periods_and_rule_sets(con)
start = get_settings().fiscal_year_start_month
period = st.selectbox("Period", periods, key="plan_period",
                      format_func=lambda p: f"{fiscal_calendar.fiscal_id(p, start)} ({p})")
if done := st.session_state.pop("plan_loaded", None):
    st.success(plain(done), icon=":material/check:")

table = plan.plan_vs_actual(con, user, period)
planned = table.filter(table["plan"].is_not_null())
m1, m2, m3 = st.columns(3)
total_plan = Decimal(planned["plan"].sum() or 0)
total_actual = Decimal(planned["actual"].sum() or 0)
m1.metric("Plan", money(total_plan))
m2.metric("Allocated actual (planned cost centres)", money(total_actual))
m3.metric("Variance", money(total_actual - total_plan))
if table.height:
    st.dataframe(table, hide_index=True, width="stretch", key="plan_table", column_config={
        c: st.column_config.NumberColumn(c.capitalize(), format="dollar") for c in ("plan", "actual", "variance")})
else:
    st.info("No plan and no posted allocation for this period yet.")

if policy.can(user, "import_plan"):
    st.subheader("Import a plan")
    st.caption("CSV or XLSX with the columns period (YYYY-MM or FY2026-P03), cost_center_id, amount and optionally "
               "currency. Every row is checked first: one bad row and nothing is loaded.")
    with st.form("plan_upload", clear_on_submit=True):
        upload = st.file_uploader("Plan file", type=["csv", "xlsx"])
        if st.form_submit_button("Import plan", type="primary") and upload is not None:
            try:
                result = plan.import_plan(con, upload.name, upload.getvalue(), user)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.session_state["plan_loaded"] = (f"Loaded {result.rows} plan rows from {result.file_name} "
                                                   f"({money(result.total)}; {', '.join(result.periods)}).")
                st.rerun()

st.subheader("Budgets")
st.caption(plain(f"The budget each cost centre is held to (on allocated cost), and which of "
                 f"{', '.join(f'{t} %' for t in budgets.THRESHOLDS)} its posted charge reached; from "
                 f"{budgets.FLAG_FROM} % a month close raises a flag (Anomalies page, the overview's Over budget, the "
                 "cost centre's statement)."))
st.dataframe(budgets.standing(con, user, period), hide_index=True, width="stretch", key="budget_status",
             column_config={"budget": st.column_config.NumberColumn("Budget", format="dollar"),
                            "charged": st.column_config.NumberColumn("Charged", format="dollar"),
                            "used_pct": st.column_config.NumberColumn("Used", format="%.1f %%")})
if policy.can(user, "manage_budgets"):
    with st.expander("Propose and set budgets"):
        growth = st.slider("Growth over the median of the last three posted months", -20, 50, 5, format="%d %%",
                           key="budget_growth")
        try:
            proposal = budgets.propose(con, period, growth=Decimal(growth) / 100)
        except ApportionError as exc:
            st.caption(plain(exc))
        else:
            edited = st.data_editor(proposal, hide_index=True, width="stretch", key="budget_editor",
                                    disabled=["cost_center_id", "name", "history"])
            why = st.text_input("Why", key="budget_reason")
            if st.button("Save budgets", key="budget_save", type="primary"):
                try:
                    n = budgets.set_budgets(con, user, period, {
                        str(cc): Decimal(str(v)) for cc, v in edited.select("cost_center_id", "proposed").iter_rows()
                        if v is not None}, why)
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.session_state["plan_loaded"] = f"Saved {n} budgets for {period}."
                    st.rerun()
