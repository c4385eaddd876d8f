"""Users (admins): add, scope, disable / enable, reset a password — each change audited, sessions revoked where it
matters."""

from __future__ import annotations

import streamlit as st

from engine.access import grants, user_admin, users
from engine.access.users import ROLES
from engine.errors import ApportionError
from ui.auth import require_role
from ui.db import db
from ui.formats import plain
from ui.navigation import roles_for

admin = require_role(*roles_for("users"))

con = db()
st.title("Users")
notice = st.session_state.pop("users_notice", None)
if notice:
    st.success(plain(notice))
st.info("Add people with the role they need; app owners see only the cost centres in their scope. Every change is "
        "audited, and disabling a user or resetting a password ends their sessions at once.",
        icon=":material/info:")
st.dataframe(user_admin.list_users(con), hide_index=True, width="stretch")

centres = [(r[0], r[1]) for r in con.execute(
    "SELECT unit_id, name FROM org_unit WHERE kind = 'cost_center' ORDER BY unit_id").fetchall()]
apps = [(r[0], r[1]) for r in con.execute("SELECT app_id, name FROM application ORDER BY app_id").fetchall()]
names = {k: v for k, v in centres + apps}


def _done(message: str) -> None:
    st.session_state["users_notice"] = message
    st.rerun()


with st.expander("Add a user", expanded=False):
    with st.form("users_add"):
        c1, c2, c3 = st.columns(3)
        username = c1.text_input("Username", key="ua_username")
        display = c2.text_input("Display name", key="ua_display")
        role = c3.selectbox("Role", ROLES, index=ROLES.index("app_owner"), key="ua_role")
        password = st.text_input("Initial password (12+ characters)", type="password", key="ua_password")
        cc = st.multiselect("Cost centres (app owners)", [c for c, _ in centres], key="ua_ccs",
                            format_func=lambda c: f"{c} · {names[c]}")
        ap = st.multiselect("Applications (app owners; adds their cost centres)", [a for a, _ in apps],
                            key="ua_apps", format_func=lambda a: f"{a} · {names[a]}")
        if st.form_submit_button("Add user", type="primary"):
            try:
                user_admin.add_user(con, admin, username, display, role, password, cost_centers=cc,
                                    applications=ap)
            except ApportionError as exc:
                st.error(plain(exc))
            else:
                _done(f"Added {username.strip().lower()} ({role}).")

everyone = [r[0] for r in con.execute("SELECT username FROM app_user ORDER BY username").fetchall()]
who = st.selectbox("User", everyone, key="ua_who")
a, b, c = st.columns(3)
with a.form("users_scope"):
    scope = st.multiselect("Scope (cost centres)", [c for c, _ in centres], key="ua_scope",
                           format_func=lambda c: f"{c} · {names[c]}")
    if st.form_submit_button("Set scope"):
        try:
            now = user_admin.set_scope(con, admin, who, scope)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            _done(f"{who} now sees {', '.join(now)}.")
with b.form("users_reset"):
    new = st.text_input("New password", type="password", key="ua_new_password")
    if st.form_submit_button("Reset password"):
        try:
            n = user_admin.reset_password(con, admin, who, new)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            _done(f"Password of {who} reset; {n} session(s) ended.")
with st.form("users_grant"):
    lines = st.checkbox("May see resource-level lines (executives see aggregates otherwise)", key="ua_grant",
                        value=grants.has(con, users.get_user(con, who), grants.RESOURCE_LINES))
    if st.form_submit_button("Save grant"):
        try:
            grants.set_grant(con, admin, who, grants.RESOURCE_LINES, lines)
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            _done(f"{who}: resource lines {'granted' if lines else 'not granted'}.")
with c.form("users_disable"):
    why = st.text_input("Reason", key="ua_reason")
    d1, d2 = st.columns(2)
    disable = d1.form_submit_button("Disable")
    enable = d2.form_submit_button("Enable")
    if disable or enable:
        try:
            if disable:
                n = users.disable_user(con, who, admin, reason=why)
                message = f"{who} disabled; {n} session(s) ended."
            else:
                users.enable_user(con, who, admin)
                message = f"{who} enabled."
        except ApportionError as exc:
            st.error(plain(exc))
        else:
            _done(message)
