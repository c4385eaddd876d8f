"""Allocation workshop: move driver weights and cost-model sliders, watch each business unit's charge move."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import streamlit as st

from engine.errors import ApportionError
from engine.insights import workshop
from engine.insights.workshop import WorkshopParams
from engine.rules.model import UNALLOCATED
from ui import cache, charts
from ui.auth import require_role
from ui.db import data_version, db
from ui.formats import axis_currency_format, money, plain
from ui.navigation import roles_for
from ui.pickers import periods_and_rule_sets

user = require_role(*roles_for("workshop"))

con = db()
st.title("Allocation workshop")
periods, rule_sets = periods_and_rule_sets(con)

c1, c2, c3 = st.columns(3)
period = c1.selectbox("Period", periods, key="period", bind="query-params")
rule_set = c2.selectbox("Rule set", rule_sets, key="ruleset", bind="query-params")
by = c3.segmented_control("Charges by", ["business_unit", "cost_center"], key="by", default="business_unit",
                          format_func=lambda v: v.replace("_", " ").capitalize(), bind="query-params")
by = by or "business_unit"
version = data_version()
prep = cache.prepared(cache.db_path(), period, rule_set, version)
baseline = cache.baseline_charges(cache.db_path(), period, rule_set, version, by)
names = workshop.unit_names(con)
st.caption(plain(f"{rule_set} v{prep.rule_version} · baseline = the rule set's own weights, full-recovery "
                 "chargeback"))


@st.fragment
def panel() -> None:
    left, right = st.columns([1, 3], gap="large")
    with left:
        st.subheader("Drivers")
        weights: dict[str, dict[str, float]] = {}
        for step_id, current in prep.weighted_steps.items():
            st.caption(plain(next(s.name for s in prep.rule_set.steps if s.id == step_id)))
            weights[step_id] = {
                driver: st.slider(plain(f"{driver.replace('_', ' ').capitalize()} weight"), 0, 100, int(round(w * 100)),
                                  step=5, key=f"w_{step_id}_{driver}", bind="query-params") / 100
                for driver, w in current.items()
            }
        st.subheader("Cost model")
        chargeback = st.toggle("Chargeback (off = showback)", value=True, key="chargeback", bind="query-params")
        subsidy = st.slider("Subsidy %", 0, 100, 0, key="subsidy", bind="query-params", disabled=not chargeback)
        subsidy_pools = st.multiselect("Subsidised pools", workshop.pools(prep), default=["security"]
                                       if "security" in workshop.pools(prep) else [], key="subsidy_pools",
                                       bind="query-params", disabled=not chargeback)
        markup = st.slider("Overhead markup %", 0, 25, 0, key="markup", bind="query-params", disabled=not chargeback)
        idle = st.slider("Idle penalty %", 0, 100, 0, key="idle", bind="query-params", disabled=not chargeback,
                         help="Charged on each unit's share of unused reserved capacity (unused commitments).")
        unused = st.radio("Unused commitment", ["as allocated", "keep_central", "spread_pro_rata",
                                                "on_demand_equivalent"],
                          key="unused", bind="query-params", disabled=not chargeback,
                          format_func=lambda v: v.replace("_", " ").capitalize())
    if any(sum(w.values()) == 0 for w in weights.values()):
        right.warning("Every weighted step needs at least one non-zero weight.")
        return
    params = WorkshopParams(weights=weights, chargeback=chargeback, subsidy_pct=subsidy,
                            subsidy_pools=tuple(subsidy_pools), markup_pct=markup, idle_penalty_pct=idle,
                            unused_policy=None if unused == "as allocated" else unused)  # type: ignore[arg-type]
    uplift = (cache.on_demand_uplift(cache.db_path(), period, version)
              if params.unused_policy == "on_demand_equivalent" else None)
    result = workshop.against(workshop.charges(prep, params, by, uplift), baseline)  # type: ignore[arg-type]
    result = result.with_columns(pl.col("unit").replace_strict(names, default=pl.col("unit")).alias("name"))
    with right:
        charged = result.filter(pl.col("unit") != UNALLOCATED)   # "Charged" never includes the unallocated line
        total, base_total = Decimal(charged["charge"].sum()), Decimal(charged["baseline"].sum())
        m1, m2, m3 = st.columns(3)
        unallocated = Decimal(result.filter(pl.col("unit") == UNALLOCATED)["charge"].sum())
        m1.metric("Total charged", money(total), delta=money(total - base_total) + " vs baseline",
                  delta_color="off", help=f"Excludes the unallocated line ({money(unallocated)}), carried centrally.")
        m2.metric("Subsidy carried centrally", money(result["subsidy"].sum()))
        m3.metric("Markup + penalties", money(Decimal(result["markup"].sum()) + Decimal(result["penalty"].sum())))
        shown = result.sort(pl.col("delta").abs(), descending=True).head(8).sort("name")
        for row_start in range(0, shown.height, 4):
            cols = st.columns(4)
            for col, r in zip(cols, shown.slice(row_start, 4).iter_rows(named=True), strict=False):
                col.metric(plain(r["name"]), money(r["charge"], compact=True), delta=money(r["delta"]),
                           delta_color="inverse",
                           help=f"{money(r['charge'])} (baseline {money(r['baseline'])})")
        st.subheader("Who wins, who loses")
        fmt = axis_currency_format()
        chart_df = result.select("name", pl.col("delta").cast(pl.Float64), pl.col("charge").cast(pl.Float64),
                                 pl.col("baseline").cast(pl.Float64))
        st.vega_lite_chart(chart_df, charts.winners_losers_spec(fmt, chart_df.height), width="stretch")
        st.dataframe(
            result.select("name", "charge", "baseline", "delta", "direct", "shared", "subsidy", "markup", "penalty"),
            hide_index=True, width="stretch", key="workshop_table",
            column_config={c: st.column_config.NumberColumn(c.capitalize(), format="dollar")
                           for c in ("charge", "baseline", "delta", "direct", "shared", "subsidy", "markup",
                                     "penalty")},
        )
        with st.form("save_draft", clear_on_submit=True):
            reason = st.text_input("Why this change (recorded in the audit trail)")
            scenario_name = st.text_input("Scenario name", value=f"Workshop {period}")
            if st.form_submit_button("Save as draft rule version", type="primary"):
                try:
                    name, v, sc = workshop.save_draft(con, prep, params, user.username, reason, scenario_name, period)
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.toast(plain(f"Saved {name} v{v} and scenario '{sc.name}' v{sc.version}."),
                             icon=":material/check:")
                    st.success(plain(f"{name} v{v} is pending approval (Rule versions page)."))


panel()
