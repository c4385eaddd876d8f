"""Cost models: depreciation schedules, rate cards, RI / SP amortisation with the unused-commitment policy, and the
showback → chargeback transition plan. Finops and admins edit; auditors and executives read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import streamlit as st

from engine.access import policy
from engine.costmodels import amortisation, catalogue, ratecard, schedules, transition
from engine.costmodels.commitments import CommitmentPolicy
from engine.errors import ApportionError
from engine.insights import overview
from engine.reconcile.invoice_disputes import parse_amount
from engine.settings import get_settings
from ui.auth import require_role
from ui.db import db
from ui.downloads import download_row
from ui.empty import empty_state
from ui.formats import money, pct, plain
from ui.navigation import roles_for

user = require_role(*roles_for("cost_models"))

con = db()
st.title("Cost models")
can_edit = policy.can(user, "edit_cost_models")
if not can_edit:
    st.caption("Read only: finops and admins edit cost models.")
fy_start = get_settings().fiscal_year_start_month
periods = list(reversed(overview.periods(con)))
if not periods:
    empty_state("billing data")
    st.stop()
DOLLARS = st.column_config.NumberColumn(format="dollar")

dep_tab, card_tab, commit_tab, plan_tab = st.tabs(["Depreciation", "Rate cards", "Commitments", "Transition plan"])

with dep_tab:
    period = st.selectbox("Month", periods, key="cm_dep_period")
    pools = schedules.pools_for_period(con, period, fiscal_year_start_month=fy_start)
    m1, m2, m3 = st.columns(3)
    m1.metric("Depreciation this month", money(pools["depreciation"].sum()))
    m2.metric("Accumulated", money(pools["accumulated"].sum()))
    m3.metric("Book value at month end", money(pools["book_value"].sum()))
    st.dataframe(pools, hide_index=True, width="stretch",
                 column_config={c: DOLLARS for c in ("cost", "depreciation", "accumulated", "book_value")})
    st.caption("A pool is an asset class. Items below the capex threshold are expensed when bought and sit in no "
               "depreciation pool; disposed assets leave the pool after their last depreciated month.")
    pool = st.selectbox("Pool", pools["pool"].to_list(), key="cm_dep_pool")
    assets = schedules.pool_assets(con, pool, period, fiscal_year_start_month=fy_start) if pool else pl.DataFrame()
    if assets.is_empty():
        st.info("No assets of this pool were in service by this month.")
    else:
        st.dataframe(assets, hide_index=True, width="stretch",
                     column_config={c: DOLLARS for c in ("cost", "depreciation", "book_value")})
        asset_id = st.selectbox("Asset", assets["asset_id"].to_list(), key="cm_dep_asset")
        s = schedules.asset_schedule(con, asset_id, fiscal_year_start_month=fy_start)
        st.caption(plain(f"{s.asset_id}: {s.classification}, {s.method.replace('_', ' ')}, "
                         f"{s.convention.replace('_', ' ')}, cost {money(s.cost)}, residual {money(s.residual)}, "
                         f"{s.useful_life_months} months from {s.in_service:%Y-%m-%d}."))
        if s.disposal is not None:
            st.info(plain(f"Disposed of on {s.disposal.disposed_on:%Y-%m-%d} ({s.disposal.reason}): book value "
                          f"{money(s.book_value_at_disposal)}, proceeds {money(s.disposal.proceeds)}, "
                          f"gain / loss {money(s.gain_or_loss)}."))
        st.dataframe(s.schedule.drop("asset_id", "cost_center_id"), hide_index=True, width="stretch",
                     column_config={c: DOLLARS for c in ("depreciation", "accumulated", "book_value")})
        download_row(s.schedule, f"depreciation-{s.asset_id}", "cm_dep_dl")
        if can_edit and s.disposal is None and s.classification == "capex":
            with st.form("cm_dispose"):
                st.write(plain(f"Dispose of {s.asset_id}"))
                c1, c2, c3 = st.columns(3)
                on = c1.date_input("Disposed on", value=date.today(), key="cm_dispose_on")
                proceeds = c2.text_input("Proceeds", value="0.00", key="cm_dispose_proceeds")
                why = c3.text_input("Reason", key="cm_dispose_reason")
                if st.form_submit_button("Record disposal", icon=":material/delete_sweep:"):
                    try:
                        schedules.record_disposal(con, user, s.asset_id, on, parse_amount(proceeds, "proceeds"),
                                                  why, fiscal_year_start_month=fy_start)
                    except ApportionError as exc:
                        st.error(plain(exc))
                    else:
                        st.rerun()

with card_tab:
    cards = catalogue.rate_card_versions(con)
    names = cards["card"].to_list()
    if names:
        st.dataframe(cards, hide_index=True, width="stretch")
    else:
        st.info("No rate card yet. Publish the service catalogue, or start one below.")
    choice = st.selectbox("Card", [*names, "New card"] if can_edit else names, key="cm_card")
    card: ratecard.RateCard | None = None
    if choice and choice != "New card":
        latest = int(cards.filter(pl.col("card") == choice)["latest_version"][0])
        version = st.selectbox("Version", list(range(latest, 0, -1)), key=f"cm_card_v_{choice}")
        card = ratecard.load_rate_card(con, choice, version)
        st.caption(plain(f"{card.name} v{card.version}, in force from {card.effective_from}."))
    if card is not None:
        st.markdown("**Preview a charge**")
        items = sorted({i.item for i in card.items})
        p1, p2, p3 = st.columns(3)
        item = p1.selectbox("Item", items, key="cm_prev_item")
        tier = p2.selectbox("Support tier", sorted({i.tier for i in card.items if i.item == item}),
                            key="cm_prev_tier")
        qty = p3.number_input("Quantity", min_value=0.0, value=1.0, step=1.0, key="cm_prev_qty")
        try:
            charge = catalogue.preview_charge(card, item, tier, Decimal(str(qty)))
            unit = card.price(item, tier)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            st.metric(plain(f"Charge for {qty:,g} {unit.unit}"), money(charge),
                      help=plain(f"{qty:,g} × {unit.unit_price} per {unit.unit}, rounded half up to the cent"))
    if can_edit and choice:
        st.markdown("**Edit: saving makes a new version** (earlier versions stay for re-derivation)")
        base = catalogue.card_frame(card) if card is not None else pl.DataFrame(
            [{"item": "", "tier": ratecard.ANY_TIER, "unit": "", "unit_price": None}],
            schema={"item": pl.String, "tier": pl.String, "unit": pl.String, "unit_price": pl.Float64})
        edited = st.data_editor(base.with_columns(pl.col("unit_price").cast(pl.Float64)), num_rows="dynamic",
                                hide_index=True, width="stretch", key=f"cm_card_edit_{choice}")
        e1, e2 = st.columns(2)
        new_name = e1.text_input("Card name", value="" if card is None else card.name, key="cm_card_name")
        eff = e2.text_input("In force from (YYYY-MM)", value=periods[0], key="cm_card_from")
        if st.button("Save rate card version", icon=":material/save:", key="cm_card_save"):
            rows = [{**r, "unit_price": None if r["unit_price"] is None else Decimal(str(r["unit_price"]))}
                    for r in pl.DataFrame(edited).iter_rows(named=True)]
            try:
                saved = catalogue.save_card(con, user, catalogue.card_from(new_name.strip(), eff.strip(), rows))
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                st.success(plain(f"Saved {saved.name} v{saved.version}."))

with commit_tab:
    by_month = amortisation.amortisation_by_month(con)
    if by_month.is_empty():
        st.info("No commitment (reservation or savings plan) lines in the billing data.")
    else:
        st.markdown("**Amortisation by month**: purchases are billed when paid and amortised over the usage "
                    "they cover (used) and the capacity nobody used (unused).")
        st.dataframe(by_month, hide_index=True, width="stretch",
                     column_config={**{c: DOLLARS for c in ("purchases_billed", "amortised", "used", "unused")},
                                    "utilisation": st.column_config.NumberColumn(format="percent")})
        cperiod = st.selectbox("Month", by_month["period"].to_list()[::-1], key="cm_commit_period")
        in_force, saved = amortisation.policy_in_force(con, cperiod)
        st.caption(plain(f"Policy in force for {cperiod}: {in_force.mode.replace('_', ' ')}"
                         + (f" (version {in_force.version}, from {in_force.effective_from}"
                            + (f": {in_force.reason}" if in_force.reason else "") + ")" if saved
                            else " (the default; no policy saved yet)")))
        modes = ["keep_central", "spread_pro_rata", "on_demand_equivalent"]
        preview_mode = st.radio("Show the month under", modes, index=modes.index(in_force.mode), horizontal=True,
                                key=f"cm_commit_mode_{cperiod}_{in_force.version}_{saved}",
                                format_func=lambda m: m.replace("_", " "))
        cmonth = amortisation.month(con, cperiod, None if preview_mode == in_force.mode
                                    else CommitmentPolicy(mode=preview_mode))  # type: ignore[arg-type]
        totals = cmonth.totals()
        t1, t2, t3 = st.columns(3)
        t1.metric("Charged to consumers", money(totals["covered_usage"]))
        t2.metric("Unused, carried centrally", money(totals["unused_commitment"]))
        t3.metric("Savings kept centrally", money(totals["commitment_savings"]))
        util = cmonth.utilisation
        st.dataframe(util, hide_index=True, width="stretch",
                     column_config={**{c: DOLLARS for c in ("used_effective", "unused_effective", "on_demand")},
                                    "utilisation": st.column_config.NumberColumn(format="percent")})
        with st.expander("Lines per commitment and consumer"):
            st.dataframe(cmonth.lines, hide_index=True, width="stretch", column_config={"amount": DOLLARS})
        if can_edit:
            with st.form("cm_policy"):
                st.write("Save a new version of the unused-commitment policy")
                c1, c2 = st.columns(2)
                mode = c1.selectbox("Policy", modes, key="cm_policy_mode", format_func=lambda m: m.replace("_", " "))
                frm = c2.text_input("In force from (YYYY-MM)", value=cperiod, key="cm_policy_from")
                why = st.text_input("Reason", key="cm_policy_reason")
                if st.form_submit_button("Save policy version", icon=":material/save:"):
                    try:
                        amortisation.save_policy(con, user, mode, frm.strip(), why)
                    except ApportionError as exc:
                        st.error(plain(exc))
                    else:
                        st.rerun()

with plan_tab:
    try:
        base_period, run_rate = transition.run_rate(con)
    except ApportionError as exc:
        st.info(plain(exc))
    else:
        bu_names = transition.business_unit_names(con)
        st.caption(plain(f"Expected monthly cost per business unit: the posted allocation of {base_period} "
                         f"(total {money(sum(run_rate.values()))}); the unallocated line stays central."))
        saved_plans = transition.plan_names(con)
        source = st.radio("Plan", ["Design a phased plan", *saved_plans], horizontal=True, key="cm_plan_source")
        start_default = transition.months(base_period, 2)[1]
        if source == "Design a phased plan":
            c1, c2, c3, c4 = st.columns(4)
            start = c1.text_input("First month", value=start_default, key="cm_plan_start")
            steps_text = c2.text_input("Chargeback steps (%)", value="0, 50, 100", key="cm_plan_steps")
            every = c3.number_input("Months per step", min_value=1, max_value=24, value=3, key="cm_plan_every")
            horizon = c4.number_input("Months shown", min_value=1, max_value=36, value=9, key="cm_plan_horizon")
            units = st.multiselect("Business units moving", list(run_rate), default=list(run_rate),
                                   format_func=lambda b: bu_names.get(b, b), key="cm_plan_units")
            try:
                steps = [parse_amount(s, "chargeback step") for s in steps_text.split(",") if s.strip()]
                plan = transition.phased("showback to chargeback", units, start.strip(), steps, int(every))
                shown = transition.months(start.strip(), int(horizon))
            except ApportionError as exc:
                st.error(plain(exc))
                st.stop()
        else:
            plan = transition.load_plan(con, source)
            first = min(p.effective_from for p in plan.phases)
            horizon = st.number_input("Months shown", min_value=1, max_value=36, value=9, key="cm_plan_horizon2")
            shown = transition.months(first, int(horizon))
            st.caption(plain(f"{plan.name} v{plan.version}"))
        result = transition.impact(plan, run_rate, shown).with_columns(
            pl.col("business_unit_id").replace_strict(bu_names, default=pl.col("business_unit_id"))
            .alias("business_unit"))
        wide = result.pivot(on="period", index="business_unit", values="invoiced").sort("business_unit")
        st.markdown("**Invoiced per business unit and month** (the rest stays shown back)")
        st.dataframe(wide, hide_index=True, width="stretch",
                     column_config={p: DOLLARS for p in shown})
        month_totals = result.group_by("period").agg(pl.col("invoiced").sum().cast(pl.Float64),
                                                     pl.col("showback_only").sum().cast(pl.Float64))
        st.bar_chart(month_totals.sort("period"), x="period", y=["invoiced", "showback_only"], y_label="amount")
        st.dataframe(result.drop("business_unit_id").select("period", "business_unit", "allocated", "chargeback_pct",
                                                            "invoiced", "showback_only", "change_vs_prior"),
                     hide_index=True, width="stretch",
                     column_config={c: DOLLARS for c in ("allocated", "invoiced", "showback_only",
                                                         "change_vs_prior")})
        last = result.filter(pl.col("period") == shown[-1])
        if last["allocated"].sum():
            share = float(last["invoiced"].sum() / last["allocated"].sum() * 100)
            st.caption(plain(f"By {shown[-1]}: {pct(share)} of the run rate is invoiced."))
        if can_edit and source == "Design a phased plan":
            name = st.text_input("Save as plan", value="showback to chargeback", key="cm_plan_name")
            if st.button("Save transition plan", icon=":material/save:", key="cm_plan_save"):
                try:
                    saved_plan = transition.save_plan(con, user, plan.model_copy(update={"name": name.strip()}))
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.success(plain(f"Saved {saved_plan.name} v{saved_plan.version}."))
