"""Login and the page guard. The role is read from the store on every run; the browser only proves identity."""

from __future__ import annotations

import copy
from typing import NoReturn

import streamlit as st
import streamlit_authenticator as stauth

from engine.access import users
from engine.access.users import User
from engine.errors import ApportionError
from engine.settings import get_settings
from ui.db import db

DEMO_LOGINS_KEY = "_demo_logins"


def _authenticator() -> stauth.Authenticate:
    settings = get_settings()
    try:
        cookie_key = settings.resolved_cookie_key()
    except ApportionError as exc:  # a configuration problem, safe and useful to show
        st.error(str(exc))
        st.stop()
    creds = copy.deepcopy(users.credentials(db()))  # the library mutates what it is given
    return stauth.Authenticate(
        creds,
        cookie_name=settings.cookie_name,
        cookie_key=cookie_key,
        cookie_expiry_days=settings.cookie_expiry_days,
        auto_hash=False,
        # The library sleeps before every anonymous run so that a cookie component can answer; 0.4.2 reads the
        # cookie from the request (st.context.cookies), so the wait only delays every login. bcrypt still costs.
        login_sleep_time=0.05,
    )


def current_user() -> User | None:
    if not st.session_state.get("authentication_status"):
        return None
    username = st.session_state.get("username")
    return users.get_user(db(), username) if username else None


def _demo_logins() -> list[tuple[str, str, str]]:
    from data.generate import DEMO_LOGINS

    return [(u, pw, role) for u, (pw, role) in DEMO_LOGINS.items()]


def render_login() -> None:
    """The login form, plus the demo logins while (and only while) demo data is loaded."""
    st.title("Apportion")
    st.caption("IT cost allocation: fair, explainable, auditable.")
    _authenticator().login(location="main")
    if st.session_state.get("authentication_status") and current_user() is not None:
        # No st.rerun() here: the cookie component writes the login cookie in the browser and then triggers the
        # rerun itself. Rerunning at once could unmount it first, and a reopened link would then ask to log in.
        st.success("Signed in. Opening Apportion…")
        st.button("Continue", key="login_continue", help="If nothing happens within a second or two.")
        st.stop()
    if st.session_state.get("authentication_status") is False:
        st.error("Username or password is incorrect.")
    if get_settings().demo_mode and users.has_demo_data(db()):
        with st.expander("Demo logins", expanded=True):
            st.table({"user": [u for u, _, _ in _demo_logins()], "password": [p for _, p, _ in _demo_logins()],
                      "role": [r for _, _, r in _demo_logins()]})


def _request_logout() -> None:
    st.session_state["_logout_requested"] = True


def logout_button() -> None:
    """A plain button: building the authenticator (and its cookie component) on every signed-in run would cost
    extra reruns per page view; it is built only when the user actually logs out."""
    st.sidebar.button("Log out", on_click=_request_logout, icon=":material/logout:")


def handle_logout() -> None:
    """Called by app.py before anything else: ends the session and deletes the login cookie."""
    if st.session_state.pop("_logout_requested", False) and st.session_state.get("authentication_status"):
        _authenticator().logout(location="unrendered")


def deny(message: str) -> NoReturn:
    st.error(message)
    st.stop()


def require_role(*roles: str) -> User:
    """First call of every page. Anonymous visitors get the login form and nothing else; wrong roles get a refusal.

    A page opened by URL on a fresh server runs this before anything else, so no data leaks even when
    navigation has not been built for the session.
    """
    user = current_user()
    if user is None:
        render_login()
        st.stop()
    if user.role not in roles:
        deny(f"Your role ({user.role}) cannot open this page.")
    return user
