"""Month close: see which rule version will run, allocate, submit the close, approve (someone else), lock, compare."""

from __future__ import annotations

import polars as pl
import streamlit as st

from engine.access import policy
from engine.access.identity import identity
from engine.allocation import periods as closes
from engine.allocation.diff import diff_runs, input_changes
from engine.allocation.runs import latest_run, run_allocation
from engine.errors import ApportionError
from engine.insights.run_history import list_runs
from engine.outputs import journals
from engine.outputs.journals import mapping as gl_mapping
from engine.rules import versions
from ui.auth import require_role
from ui.db import db
from ui.downloads import download
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

state = closes.close_of(con, period)
try:
    in_force = versions.as_of(con, rule_set, period)
    st.caption(plain(f"Will run {in_force.name} v{in_force.version}, approved by {in_force.approver or '–'}, "
                     f"effective from {in_force.effective_from or 'the start'} (body {in_force.body_hash[:12]})."))
except ApportionError as exc:
    st.warning(plain(exc))
if state.state == "locked":
    st.info(plain(f"{period} is closed and locked: approved by {state.approved_by} on "
                  f"{state.approved_at:%Y-%m-%d %H:%M}. Its runs cannot be re-posted; an admin can re-open it."),
            icon=":material/lock:")
elif state.state == "submitted":
    st.info(plain(f"{period}'s close was submitted by {state.submitted_by} and waits for approval by someone else."
                  + (f" Note: {state.note}" if state.note else "")), icon=":material/pending:")

if st.button("Run month close", type="primary", icon=":material/play_arrow:", disabled=state.state != "open",
             help=None if state.state == "open" else plain(f"{period} is {state.state}.")):
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
            state = closes.close_of(con, period)


def _act(action: str, *args: str) -> None:
    try:
        getattr(closes, action)(con, period, *args)
    except ApportionError as exc:
        st.error(plain(exc))
    else:
        st.rerun()


st.subheader("Close and lock")
runs = list_runs(con, period)
labels = dict(zip(runs["run_key"].to_list(), runs["run"].to_list(), strict=True))
current = latest_run(con, period)
if state.state == "open" and current and policy.can(user, "close_month"):
    with st.form("mc_submit"):
        st.write(plain(f"Submit {labels.get(current, current[:12])} as the close of {period}."))
        note = st.text_input("Note for the approver", key="mc_note")
        if st.form_submit_button("Submit for approval", icon=":material/send:"):
            _act("submit", current, user.username, note)
elif state.state == "submitted" and policy.can(user, "approve_close"):
    mine = {identity(state.submitted_by)}
    st.write(plain(f"Submitted: {labels.get(state.run_key or '', state.run_key or '')}"))
    a, r = st.columns(2)
    if a.button("Approve and lock", type="primary", icon=":material/lock:",
                disabled=identity(user.username) in mine,
                help="Whoever submitted or posted the run cannot approve it."):
        _act("approve", user.username)
    why = r.text_input("Reason for rejecting", key="mc_reject_reason")
    if r.button("Reject", disabled=not why.strip()):
        _act("reject", user.username, why.strip())
elif state.state == "locked" and policy.can(user, "reopen_period"):
    with st.form("mc_reopen"):
        why = st.text_input("Re-open because…", key="mc_reopen_reason")
        if st.form_submit_button("Re-open the month", icon=":material/lock_open:"):
            _act("reopen", user.username, why)
elif state.state == "open" and not current:
    st.caption("Post a run first; then submit it as the month's close.")

st.subheader(plain(f"Runs for {period}"))
if runs.is_empty():
    st.info("No runs for this period yet.")
else:
    st.dataframe(runs.drop("run_key"), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="dollar")
                                for c in ("total_in", "total_out", "difference")})
    keys = runs["run_key"].to_list()
    if len(keys) >= 2:
        a, b = st.columns(2)
        run_a = a.selectbox("Compare run", keys, index=1, format_func=labels.__getitem__, key="mc_a")
        run_b = b.selectbox("with run", keys, index=0, format_func=labels.__getitem__, key="mc_b")
        changes = input_changes(con, run_a, run_b)
        if changes:
            st.caption("What changed in the inputs")
            for line in changes:
                st.text(line)
        st.dataframe(diff_runs(con, run_a, run_b), hide_index=True, width="stretch")

st.subheader("Journals")
try:
    journal = journals.build(con, period)
except ApportionError as exc:
    st.warning(plain(exc))
else:
    st.caption(plain(
        f"{'The locked close' if journal.run_state == 'locked' else 'The latest posted run'} of {period}: "
        f"{labels.get(journal.run_key, journal.run_key[:12])}, {journal.reference}. {len(journal.documents)} "
        f"documents, each balanced, company code {journal.company_code}, posted {journal.posting_date:%Y-%m-%d} "
        f"(fiscal {journal.fiscal_year}/{journal.fiscal_period:02d}), {journal.currency}."))
    j1, j2 = st.columns(2)
    j1.metric("Debits posted", money(journal.total_debit))
    j2.metric("Left unallocated (not charged out)", money(journal.unallocated))
    st.dataframe(pl.DataFrame([{"document": d.number, "kind": d.kind, "pool": d.pool,
                                "classification": d.classification, "lines": len(d.lines),
                                "debit": d.total_debit} for d in journal.documents],
                              schema={"document": pl.String, "kind": pl.String, "pool": pl.String,
                                      "classification": pl.String, "lines": pl.Int64, "debit": pl.Decimal(18, 2)},
                              orient="row"),
                 hide_index=True, width="stretch",
                 column_config={"debit": st.column_config.NumberColumn(format="dollar")})
    cols = st.columns(3)
    for where, (layout, label) in zip(cols, (("sap", "SAP FI posting"), ("oracle", "Oracle GL_INTERFACE"),
                                             ("csv", "Journal CSV")), strict=True):
        download(where, label, lambda layout=layout: journals.render(journal, layout),  # type: ignore[misc]
                 journals.file_name(journal, layout), "text/csv", key=f"mc_journal_{layout}")

if policy.can(user, "manage_gl_mapping"):
    with st.expander("GL mapping per pool"):
        gl = gl_mapping.load(con)
        st.dataframe(pl.DataFrame([vars(m) for m in gl.values()]), hide_index=True, width="stretch")
        pool = st.selectbox("Pool", sorted(gl), key="mc_gl_pool")
        current_map = gl.get(pool) if pool else None
        with st.form("mc_gl_mapping"):
            g1, g2, g3 = st.columns(3)
            debit = g1.text_input("Debit account", current_map.debit_account if current_map else "")
            credit = g2.text_input("Credit account", current_map.credit_account if current_map else "")
            credit_cc = g3.text_input("Credit cost centre (blank: clearing account)",
                                      (current_map.credit_cost_center or "") if current_map else "")
            classification = st.radio("Classification", ["opex", "capex"], horizontal=True,
                                      index=1 if current_map and current_map.classification == "capex" else 0)
            text = st.text_input("Line text", current_map.description if current_map else "")
            if st.form_submit_button("Save mapping", icon=":material/save:"):
                try:
                    gl_mapping.set_mapping(con, user, pool=pool, debit_account=debit, credit_account=credit,
                                           credit_cost_center=credit_cc, classification=classification,
                                           description=text)
                except ApportionError as exc:
                    st.error(plain(exc))
                else:
                    st.rerun()
