"""Month close: allocate a period with an approved rule version, see conservation, compare runs."""

from __future__ import annotations

import streamlit as st

from engine.allocation.diff import diff_runs, input_changes
from engine.allocation.runs import run_allocation
from engine.errors import ApportionError
from engine.insights.run_history import list_runs
from ui.auth import require_role
from ui.db import db
from ui.formats import money, plain
from ui.navigation import roles_for
from ui.pickers import periods_and_rule_sets

user = require_role(*roles_for("month_close"))

con = db()
st.title("Month close")
periods, approved = periods_and_rule_sets(con)

c1, c2, c3 = st.columns(3)
period = c1.selectbox("Period", periods, key="mc_period")
rule_set = c2.selectbox("Rule set", approved, key="mc_ruleset")
basis = c3.radio("Cost basis", ["effective", "billed"], horizontal=True, key="mc_basis",
                 help="Effective (amortised) for chargeback; billed for invoice views.")

if st.button("Run month close", type="primary", icon=":material/play_arrow:"):
    with st.status(plain(f"Allocating {period} with {rule_set}…"), expanded=True) as status:
        try:
            summary = run_allocation(con, period, rule_set, basis=basis, actor=user.username)  # type: ignore[arg-type]
        except ApportionError as exc:
            status.update(label="Run failed: nothing was posted", state="error")
            st.error(plain(exc))
        else:
            status.update(label=plain(f"Posted {period}: every cent accounted for"), state="complete")
            st.write(f"Rule set **{plain(summary.rule_set)} v{plain(summary.rule_version)}**, "
                     f"{plain(summary.basis)} cost, "
                     f"{summary.input_lines:,} lines → {summary.result_rows:,} posted rows in {summary.seconds:.1f} s"
                     + (" (replaced the earlier run with the same inputs)" if summary.replaced else ""))
            m1, m2, m3 = st.columns(3)
            m1.metric("Cost in", money(summary.total_in))
            m2.metric("Posted", money(summary.total_out))
            m3.metric("Unallocated line", money(summary.unallocated))
            st.toast(plain(f"{period} closed."), icon=":material/check:")

runs = list_runs(con, period)
st.subheader(plain(f"Runs for {period}"))
if runs.is_empty():
    st.info("No runs for this period yet.")
else:
    st.dataframe(runs, hide_index=True, width="stretch")
    keys = runs["run_key"].to_list()
    if len(keys) >= 2:
        a, b = st.columns(2)
        run_a = a.selectbox("Compare run", keys, index=1, format_func=lambda k: k[:12], key="mc_a")
        run_b = b.selectbox("with run", keys, index=0, format_func=lambda k: k[:12], key="mc_b")
        changes = input_changes(con, run_a, run_b)
        if changes:
            st.caption("What changed in the inputs")
            for line in changes:
                st.text(line)
        st.dataframe(diff_runs(con, run_a, run_b), hide_index=True, width="stretch")
