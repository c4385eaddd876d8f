"""Rule versions: who changed what, why, who approved it; what a pending version changes (readable diff and impact
per business unit) before it is approved; roll back with its own effective month; the generated methodology."""

from __future__ import annotations

import polars as pl
import streamlit as st

from engine.access import policy
from engine.allocation import impact as rule_impact
from engine.allocation.pools import load_exceptions
from engine.errors import ApportionError
from engine.outputs import methodology
from engine.rules import diff, versions
from engine.rules.model import UNALLOCATED
from ui.auth import require_role
from ui.db import db
from ui.downloads import download
from ui.empty import empty_state
from ui.formats import money, plain
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
    "reason": v.reason, "approval_comment": v.approval_comment, "effective_from": v.effective_from,
    "parent": v.parent_version, "created_at": v.created_at, "body_hash": v.body_hash[:12],
} for v in all_versions])
st.dataframe(table, hide_index=True, width="stretch")

can_edit = policy.can(user, "edit_rules")
can_approve = policy.can(user, "approve_rules")
newest_first = sorted(all_versions, key=lambda v: (v.name, -v.version))  # a pending version is the newest
choice = st.selectbox("Version", [(v.name, v.version) for v in newest_first],
                      format_func=lambda nv: f"{nv[0]} v{nv[1]}", key="rv_choice")
chosen = versions.get(con, *choice)
st.caption(f"Status **{plain(chosen.status)}** · author {plain(chosen.author)}"
           + (f" · approved by {plain(chosen.approver)}" if chosen.approver and chosen.status == "approved" else "")
           + (f" · rejected by {plain(chosen.approver)}" if chosen.approver and chosen.status == "rejected" else "")
           + f" · effective from {plain(chosen.effective_from or 'always')}"
           + f" · reason: {plain(chosen.reason or '–')}")
if chosen.approval_comment:
    st.info("Approver's comment: " + plain(chosen.approval_comment), icon=":material/rate_review:")

if chosen.status in ("pending", "draft"):
    period = rule_impact.latest_period(con)
    try:
        in_force: versions.RuleVersion | None = versions.as_of(con, chosen.name, period)
    except ApportionError:
        in_force = None
    st.subheader("What changes")
    if in_force is None:
        st.caption(f"No version of this rule set is in force for {plain(period)}: every step is new.")
    else:
        st.caption(f"Against v{in_force.version:d}, the version in force for {plain(period)}.")
    changes = diff.version_changes(
        in_force.rule_set if in_force else None, chosen.rule_set,
        old_effective=in_force.effective_from if in_force else None, new_effective=chosen.effective_from,
        old_exceptions=load_exceptions(con, period),
        new_exceptions=load_exceptions(con, chosen.effective_from or period))
    with st.container(key="rv_changes"):
        for change in changes or ["no change: the rules are identical"]:
            st.markdown("- " + plain(change))

    try:
        result = rule_impact.impact(con, chosen.name, chosen.version, user, period)
    except ApportionError as exc:
        st.error(plain(exc))
    else:
        st.subheader(f"Impact on {plain(result.period)} per business unit")
        a, b, c = st.columns(3)
        a.metric("In force" + (f" (v{result.current.version:d})" if result.current else ""),
                 money(result.total_current))
        b.metric(f"Proposed (v{result.proposed.version:d})", money(result.total_proposed))
        c.metric("Conservation", "holds" if result.conserves else "BROKEN",
                 help="Both versions post every source pool's total to the cent, and the same total.")
        if not result.same_total:
            st.warning("The two versions claim different sources (assets or licences), so their totals differ by "
                       + money(result.total_proposed - result.total_current) + ".")
        for side in (result.current, result.proposed):
            if side is not None and side.pools_off:
                st.error(f"v{side.version:d} would not post these pools to the cent: "
                         + plain(", ".join(side.pools_off)))

        def shown(frame: pl.DataFrame, label: str, label_col: str) -> pl.DataFrame:
            return pl.DataFrame({
                label: [plain(x) for x in frame[label_col]],
                "In force": [plain(money(x)) for x in frame["current"]],
                "Proposed": [plain(money(x)) for x in frame["proposed"]],
                "Change": [plain(money(x)) for x in frame["delta"]],
            })

        with st.container(key="rv_impact_bu"):
            st.table(shown(result.by_business_unit, "Business unit", "business_unit"), hide_index=True)
        with st.expander("Impact per cost centre"):
            cc = result.by_cost_center.with_columns(
                pl.when(pl.col("cost_center_id") == UNALLOCATED).then(pl.col("cost_center"))
                .otherwise(pl.col("cost_center_id") + " " + pl.col("cost_center")).alias("label"))
            st.table(shown(cc, "Cost centre", "label"), hide_index=True)

if chosen.status == "pending" and can_approve:
    wrote = versions.makers(con, chosen)
    own = versions.identity(user.username) in wrote
    if own:
        st.caption("You wrote or edited this version: a second person must approve or reject it.")
    a, r = st.columns(2)
    with a.form("rv_approve"):
        comment = st.text_area("Approval comment", key="rv_approve_comment",
                               help="Why you approve: kept on the version and in the audit trail.")
        if st.form_submit_button("Approve", type="primary", disabled=own):
            if not comment.strip():
                st.error("Say why you approve: the comment goes on the version and into the audit trail.")
            else:
                try:
                    versions.approve(con, chosen.name, chosen.version, user.username, comment.strip())
                    st.toast(plain(f"Approved {chosen.name} v{chosen.version}"), icon=":material/check:")
                    st.rerun()
                except ApportionError as exc:
                    st.error(plain(exc))
    with r.form("rv_reject"):
        why = st.text_area("Reason for rejecting", key="rv_reject_reason")
        if st.form_submit_button("Reject", disabled=own):
            if not why.strip():
                st.error("Say why you reject it: the reason goes to the author and the audit trail.")
            else:
                try:
                    versions.reject(con, chosen.name, chosen.version, user.username, why.strip())
                    st.rerun()
                except ApportionError as exc:
                    st.error(plain(exc))

if can_edit and chosen.status in ("approved", "retired"):
    first_open = versions.first_open_period(con)
    with st.form("rollback"):
        st.markdown(f"**Roll back to v{chosen.version:d}** (a new version for approval; it does not take "
                    f"v{chosen.version:d}'s old effective month {plain(chosen.effective_from or 'always')})")
        why = st.text_input("Roll back to this version because…")
        effective = st.text_input("Effective from (YYYY-MM)", value=first_open,
                                  help="Default: the first open month, after the latest posted one.")
        restate = st.checkbox("Restate closed months (effective before the latest posted month)")
        if st.form_submit_button("Roll back (creates a new version for approval)"):
            if not why.strip():
                st.error("Say why: it goes to the approver and the audit trail.")
            else:
                try:
                    v = versions.rollback(con, chosen.name, chosen.version, user.username, why.strip(),
                                          effective.strip() or None, allow_restatement=restate)
                    st.toast(plain(f"{chosen.name} v{v} created from v{chosen.version}, effective from "
                                   f"{versions.get(con, chosen.name, v).effective_from}; it needs approval."))
                except ApportionError as exc:
                    st.error(plain(exc))

with st.expander("Rule body (JSON)"):
    st.json(chosen.rule_set.body())

with st.expander("Methodology"):
    try:
        doc = methodology.build(con, chosen.name)
    except ApportionError as exc:
        st.caption(plain(exc))
    else:
        d1, d2 = st.columns(2)
        download(d1, "Methodology (printable HTML)", doc.to_html, f"methodology_{doc.rule_set}.html", "text/html",
                 icon=":material/print:", key="rv_method_html")
        download(d2, "Methodology (Markdown)", doc.to_markdown, f"methodology_{doc.rule_set}.md", "text/markdown",
                 key="rv_method_md")
        st.subheader(plain(doc.title))
        for section in doc.sections:
            st.markdown(("### " if section.level == 2 else "#### ") + plain(section.title))
            for block in section.blocks:
                if isinstance(block, methodology.Table):
                    st.table(pl.DataFrame([[plain(c) for c in row] for row in block.rows],
                                          schema=[plain(c) for c in block.columns], orient="row"),
                             hide_index=True)
                elif isinstance(block, methodology.Bullets):
                    for item in block.items:
                        st.markdown("- " + plain(item))
                else:
                    st.markdown(plain(block))
