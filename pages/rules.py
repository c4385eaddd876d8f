"""Rule versions: who changed what, why, who approved it; approve, reject or roll back (never edit in place)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from engine.access import policy
from engine.errors import ApportionError
from engine.rules import versions
from ui.auth import require_role
from ui.db import db
from ui.empty import empty_state
from ui.formats import plain
from ui.navigation import roles_for

user = require_role(*roles_for("rules"))

con = db()
st.title("Rule versions")
all_versions = versions.list_versions(con)
if not all_versions:
    empty_state("rule set")
    st.stop()

table = pl.DataFrame([{
    "name": v.name, "version": v.version, "status": v.status, "author": v.author, "approver": v.approver,
    "reason": v.reason, "effective_from": v.effective_from, "parent": v.parent_version, "created_at": v.created_at,
    "body_hash": v.body_hash[:12],
} for v in all_versions])
st.dataframe(table, hide_index=True, width="stretch")

can_act = policy.can(user, "edit_rules")
choice = st.selectbox("Version", [(v.name, v.version) for v in all_versions],
                      format_func=lambda nv: f"{nv[0]} v{nv[1]}", key="rv_choice")
chosen = versions.get(con, *choice)
st.caption(f"Status **{plain(chosen.status)}** · author {plain(chosen.author)}"
           + (f" · approved by {plain(chosen.approver)}" if chosen.approver else "")
           + f" · reason: {plain(chosen.reason or '–')}")

if can_act and chosen.status == "pending":
    a, r = st.columns(2)
    if a.button("Approve", type="primary", disabled=chosen.author == user.username,
                help="The author cannot approve their own change."):
        try:
            versions.approve(con, chosen.name, chosen.version, user.username)
            st.toast(plain(f"Approved {chosen.name} v{chosen.version}"), icon=":material/check:")
            st.rerun()
        except ApportionError as exc:
            st.error(plain(exc))
    why = r.text_input("Reason for rejecting", key="rv_reject_reason")
    if r.button("Reject", disabled=chosen.author == user.username or not why.strip()):
        try:
            versions.reject(con, chosen.name, chosen.version, user.username, why.strip())
            st.rerun()
        except ApportionError as exc:
            st.error(plain(exc))
if can_act and chosen.status in ("approved", "retired"):
    with st.form("rollback"):
        why = st.text_input("Roll back to this version because…")
        if st.form_submit_button("Roll back (creates a new version for approval)"):
            if not why.strip():
                st.error("Say why: it goes to the approver and the audit trail.")
            else:
                v = versions.rollback(con, chosen.name, chosen.version, user.username, why.strip())
                st.toast(plain(f"{chosen.name} v{v} created from v{chosen.version}; it needs approval."))

with st.expander("Rule body (JSON)"):
    st.json(chosen.rule_set.body())
