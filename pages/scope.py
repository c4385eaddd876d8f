"""Scope and basis: every pool and asset class by materiality, owner and basis per pool, the granularity check."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.scope import overview, versions
from engine.scope.model import BASIS_GUIDE, GRANULARITY_LABELS, pool_from
from ui.auth import require_role
from ui.db import db
from ui.formats import money, plain
from ui.navigation import roles_for
from ui.pickers import periods_and_rule_sets

user = require_role(*roles_for("scope"))

con = db()
st.title("Scope and basis")
periods, rule_sets = periods_and_rule_sets(con)
c1, c2 = st.columns(2)
period = c1.selectbox("Period", periods, key="scope_period")
rule_set = c2.selectbox("Rule set", rule_sets, key="scope_rule_set")
try:
    view = overview.build(con, period, rule_set)
except ApportionError as exc:
    st.error(plain(exc))
    st.stop()

st.caption(plain(f"{view.fiscal_id} ({period}) · {rule_set} v{view.rule_version} · scope "
                 + (f"v{view.scope_version}" if view.scope_version else "not set: the rules run as approved")))
if saved := st.session_state.pop("scope_saved", None):
    st.success(plain(saved), icon=":material/check:")
flagged = view.coverage.filter(pl.col("flagged"))
m1, m2, m3 = st.columns(3)
m1.metric("Month's pools", money(view.total, compact=True), help="Σ |pool| of the month: the materiality base")
m2.metric("Pools to overhead", plain(view.pools["to_overhead"].sum()))
m3.metric("Granularity warnings", plain(flagged.height))

st.subheader("Cost pools")
st.dataframe(view.pools.drop("pool"), hide_index=True, width="stretch", key="scope_pools", column_config={
    "spend": st.column_config.NumberColumn("Spend", format="dollar"),
    "share_pct": st.column_config.NumberColumn("Share %", format="%.2f"),
    "rules_method": "Approved method", "close_method": "Month close uses",
})
st.subheader("Asset classes")
st.dataframe(view.asset_classes, hide_index=True, width="stretch", key="scope_classes", column_config={
    "spend": st.column_config.NumberColumn("Spend this period", format="dollar"),
    "share_pct": st.column_config.NumberColumn("Share %", format="%.2f"),
    "in_rule_set": "Allocated by the rule set",
})

st.subheader("Granularity check")
for r in flagged.iter_rows(named=True):
    st.warning(plain(f"{r['name']}: {r['message']}"), icon=":material/warning:")
if not flagged.height:
    st.success("The metering data loaded supports every pool's granularity.")
st.dataframe(view.coverage.drop("pool"), hide_index=True, width="stretch", key="scope_coverage")

with st.expander("Which basis for which pool"):
    for basis, text in BASIS_GUIDE.items():
        st.markdown(f"**{plain(basis.replace('_', ' ').capitalize())}** — {plain(text)}")

if not policy.can(user, "edit_scope"):
    st.caption("Read only: FinOps and admins change the scope.")
    st.stop()

owner_names = dict(overview.owners(con))
steps = [s.id for s in view.approved.steps]
names = {s.id: s.name for s in view.approved.steps}
st.subheader("Change a pool")
pool_id = st.selectbox("Pool", steps, format_func=lambda sid: plain(names[sid]), key="scope_pool")
current = view.scope.pool(pool_id)
bases = list(BASIS_GUIDE)
with st.form(f"scope_pool_{pool_id}"):
    a, b, c = st.columns(3)
    owner = a.selectbox("Owner", list(owner_names), index=list(owner_names).index(current.owner)
                        if current.owner in owner_names else 0, format_func=lambda o: plain(owner_names[o]))
    basis = b.selectbox("Basis", bases, index=bases.index(current.basis),
                        format_func=lambda v: v.replace("_", " ").capitalize(), help=plain(BASIS_GUIDE["rules"]))
    grains = ["", *GRANULARITY_LABELS]
    grain = c.selectbox("Granularity", grains, index=grains.index(current.granularity or ""),
                        format_func=lambda g: "as the rule set targets" if not g else GRANULARITY_LABELS[g])
    d, e, f = st.columns(3)
    usage_driver = d.text_input("Usage driver (direct usage)", value=current.usage_driver or "")
    min_cov = e.number_input("Coverage needed %", 0, 100, int(current.min_coverage_pct))
    effective = f.selectbox("Effective from", sorted(periods), index=sorted(periods).index(period))
    critical = st.checkbox("Critical (never moved to overhead)", value=current.critical)
    in_model = st.checkbox("In the model (off: shared as general overhead)", value=current.in_model)
    note = st.text_input("Why (recorded in the audit trail)", key=f"scope_note_{pool_id}")
    if st.form_submit_button("Save pool", type="primary"):
        try:
            new = pool_from({
                "in_model": in_model, "critical": critical, "owner": owner, "basis": basis,
                "usage_driver": (usage_driver.strip() or None) if basis == "direct_usage" else None,
                "split": current.split if basis == "strategic" else None, "granularity": grain or None,
                "min_coverage_pct": Decimal(min_cov)})
            v = versions.save_pool(con, rule_set, pool_id, new, user, effective, note)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            st.session_state["scope_saved"] = f"Saved scope v{v} of {rule_set}: {names[pool_id]} from {effective}."
            st.rerun()

st.subheader("Materiality")
drivers = overview.drivers(con)
with st.form("scope_model"):
    a, b = st.columns(2)
    threshold = a.number_input("Materiality threshold %", 0.0, 100.0, float(view.scope.threshold_pct), step=0.5)
    overhead = b.selectbox("Overhead pool shared by", drivers, index=drivers.index(view.scope.overhead_driver)
                           if view.scope.overhead_driver in drivers else 0)
    classes = st.multiselect("Critical asset classes", view.asset_classes["asset_class"].to_list(),
                             default=[c for c in view.scope.critical_classes
                                      if c in view.asset_classes["asset_class"].to_list()])
    effective_m = st.selectbox("Effective from", sorted(periods), index=sorted(periods).index(period),
                               key="scope_model_effective")
    note_m = st.text_input("Why (recorded in the audit trail)", key="scope_model_note")
    if st.form_submit_button("Save materiality"):
        try:
            v = versions.save_model(con, rule_set, Decimal(str(threshold)), overhead, classes, user, effective_m,
                                    note_m)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            st.session_state["scope_saved"] = f"Saved scope v{v} of {rule_set} from {effective_m}."
            st.rerun()

history = versions.history(con, rule_set)
if history:
    st.subheader("Scope versions")
    st.dataframe(pl.DataFrame([{"version": h.version, "effective_from": h.effective_from, "saved_by": h.saved_by,
                                "saved_at": h.saved_at, "note": h.note,
                                "threshold_pct": float(h.scope.threshold_pct)} for h in history]),
                 hide_index=True, width="stretch", key="scope_history")
