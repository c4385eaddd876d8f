"""Apportion entry point: settings, login, role-based navigation. Nothing else."""

from __future__ import annotations

import streamlit as st

from ui.auth import current_user, handle_logout, logout_button, render_login
from ui.formats import plain
from ui.navigation import PAGES, pages_for

st.set_page_config(page_title="Apportion", page_icon=":material/account_balance:", layout="wide")

handle_logout()
user = current_user()
if user is None:
    # Every protected URL resolves to the login form, so a shared link (path and query string) survives the login.
    login_pages = [st.Page(render_login, title="Log in", icon=":material/login:", url_path="login", default=True)]
    login_pages += [st.Page(render_login, title=p.title, url_path=p.key) for p in PAGES]
    st.navigation(login_pages, position="hidden").run()
else:
    specs = pages_for(user.role)
    # Streamlit serves the default page at "/" and gives it no other address, so a link to a user's first page
    # (/explorer for an app owner, /overview for FinOps) said "Page not found". The root is a hidden page that runs
    # the first page; every listed page keeps its own address.
    first = specs[0]
    sections: dict[str, list[st.Page]] = {first.section: [st.Page(
        first.path, title=first.title, icon=first.icon, url_path="home", default=True, visibility="hidden")]}
    for p in specs:
        sections.setdefault(p.section, []).append(st.Page(p.path, title=p.title, icon=p.icon, url_path=p.key))
    with st.sidebar:
        st.caption(f"Signed in as **{plain(user.display_name)}** · {user.role.replace('_', ' ')}")
        logout_button()
    st.navigation(sections, expanded=True).run()   # every page listed: the roles already trim the list
