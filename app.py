"""Apportion entry point: settings, login, role-based navigation. Nothing else."""

from __future__ import annotations

import streamlit as st

from ui.auth import current_user, logout_button, render_login
from ui.navigation import pages_for

st.set_page_config(page_title="Apportion", page_icon=":material/account_balance:", layout="wide")

user = current_user()
if user is None:
    st.navigation([st.Page(render_login, title="Log in", icon=":material/login:", url_path="login")]).run()
else:
    sections: dict[str, list[st.Page]] = {}
    for p in pages_for(user.role):
        sections.setdefault(p.section, []).append(st.Page(p.path, title=p.title, icon=p.icon, url_path=p.key))
    with st.sidebar:
        st.caption(f"Signed in as **{user.display_name}** · {user.role.replace('_', ' ')}")
        logout_button()
    st.navigation(sections).run()
