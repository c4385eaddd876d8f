"""Login, the session check and the page guard. The role is read from the store on every run; the browser's cookie
only carries a signed id of a server-side session (engine/access/sessions.py), checked on every run.

Why not streamlit-authenticator's own cookie (0.4.2): its cookie is a JWT of {username, exp_date}, so it cannot be
revoked; its reader raises on an `alg: none` token, a token without `exp_date` and an unknown user (the page showed
"This app has encountered an error"); its failed-login count lives in one process's memory and is checked only
after the form is read. Here the form is ours, the password and lockout checks are the engine's (`sessions.sign_in`),
and the cookie is written with the same cookie component the library uses (extra-streamlit-components), which sets
it from JavaScript: it cannot be HttpOnly (docs/security.md, "Sessions").
"""

from __future__ import annotations

from datetime import UTC
from typing import NoReturn

import streamlit as st
from extra_streamlit_components.CookieManager import _component_func as _cookie_component

from engine.access import oidc, sessions, users
from engine.access.users import User
from engine.errors import ApportionError
from engine.settings import get_settings
from ui.db import db
from ui.formats import plain

DEMO_LOGINS_KEY = "_demo_logins"
SESSION_KEY = "_apportion_session"   # the session id of this browser tab (server-side state, never rendered)
_FORGET_KEY = "_forget_cookie"       # set at logout until the browser confirms the cookie is deleted
_SSO_KEY = "_apportion_sso"          # the username this tab signed in as through single sign-on (st.login)
_AUTH_KEYS = ("authentication_status", "username", "name")
_HIDE_COMPONENT = '<style>.element-container:has(iframe[height="0"]) { display: none; }</style>'


def _cookie_key() -> str:
    try:
        return get_settings().resolved_cookie_key()
    except ApportionError as exc:  # a configuration problem, safe and useful to show
        st.error(str(exc))
        st.stop()


def _signed_out() -> None:
    st.session_state.pop(SESSION_KEY, None)
    for k in _AUTH_KEYS:
        st.session_state[k] = None


def _signed_in(session_id: str, user: User) -> None:
    st.session_state[SESSION_KEY] = session_id
    st.session_state["authentication_status"] = True
    st.session_state["username"] = user.username
    st.session_state["name"] = user.display_name


def sso_configured() -> bool:
    """Single sign-on is offered when the secrets hold Streamlit's OIDC section `[auth]` (docs/security.md)."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def _sso_user() -> User:
    """The user Streamlit's identity cookie names, mapped from its claims on every run (engine/access/oidc.py); a
    refusal shows its reason and a way out, and nothing else."""
    claims = dict(st.user.to_dict())
    try:
        user = oidc.user_from_claims(db(), claims)
        if st.session_state.get(_SSO_KEY) != user.username:
            oidc.record_sign_in(db(), user, claims)
    except ApportionError as exc:
        _signed_out()
        st.title("Apportion")
        st.error(plain(str(exc)))
        st.button("Log out of single sign-on", on_click=st.logout, icon=":material/logout:")
        st.stop()
    st.session_state[_SSO_KEY] = user.username
    st.session_state["authentication_status"] = True
    st.session_state["username"] = user.username
    st.session_state["name"] = user.display_name
    return user


def current_user() -> User | None:
    """The user of a live session, else None. The session id comes from this tab's state or, on a fresh tab, from
    the login cookie of the request; a malformed, minted, revoked, expired or idle one is simply signed out. With
    single sign-on configured, a user signed in through the identity provider comes first."""
    if sso_configured() and st.user.is_logged_in:
        return _sso_user()
    st.session_state.pop(_SSO_KEY, None)
    sid = st.session_state.get(SESSION_KEY)
    if not isinstance(sid, str):
        sid = sessions.session_id_from_cookie(st.context.cookies.get(get_settings().cookie_name), _cookie_key())
    if sid is None:
        _signed_out()
        return None
    con = db()
    check = sessions.validate(con, sid)
    user = users.get_user(con, check.username) if check.ok and check.username else None
    if user is None:
        _signed_out()
        return None
    _signed_in(sid, user)
    return user


def _demo_logins() -> list[tuple[str, str, str]]:
    from data.generate import DEMO_LOGINS

    return [(u, pw, role) for u, (pw, role) in DEMO_LOGINS.items()]


def _secure_cookie() -> bool:
    return get_settings().cookie_secure or (st.context.url or "").startswith("https://")


def _write_cookie(session: sessions.Session) -> None:
    """Hand the signed session id to the browser; the component's answer reruns the app, signed in."""
    st.html(_HIDE_COMPONENT)
    options = {"path": "/", "expires": session.expires_at.replace(tzinfo=UTC).isoformat(), "sameSite": "strict"}
    if _secure_cookie():
        options["secure"] = True
    _cookie_component(method="set", cookie=get_settings().cookie_name, value=sessions.cookie_value(
        session, _cookie_key()), options=options, key="apportion_cookie_set", default=False)


def _forget_cookie() -> None:
    """After logout: delete the cookie in the browser; rendered on every run until the browser says it did (the
    session is already revoked in the store, so a cookie that survives opens nothing)."""
    st.html(_HIDE_COMPONENT)
    if _cookie_component(method="delete", cookie=get_settings().cookie_name, key="apportion_cookie_delete",
                         default=False):
        st.session_state.pop(_FORGET_KEY, None)


def render_login() -> None:
    """The login form, plus the demo logins while (and only while) demo data is loaded."""
    st.title("Apportion")
    st.caption("IT cost allocation: fair, explainable, auditable.")
    with st.form("login"):
        st.subheader("Login")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Login")
    if sso_configured():
        st.button("Sign in with single sign-on", on_click=st.login, icon=":material/key:", key="login_sso")
    if submitted:
        try:
            session = sessions.sign_in(db(), username, password)
            user = users.get_user(db(), session.username)
        except ApportionError as exc:
            st.session_state["authentication_status"] = False
            st.error(plain(str(exc)))
        else:
            if user is not None:
                _signed_in(session.session_id, user)
                st.session_state.pop(_FORGET_KEY, None)
                _write_cookie(session)
                # No st.rerun() here: the cookie component writes the cookie in the browser and then reruns the app
                # itself. Rerunning at once could unmount it first, and a reopened link would then ask to log in.
                st.success("Signed in. Opening Apportion…")
                st.button("Continue", key="login_continue", help="If nothing happens within a second or two.")
                st.stop()
    if st.session_state.get(_FORGET_KEY):
        _forget_cookie()
    if get_settings().demo_mode and users.has_demo_data(db()):
        with st.expander("Demo logins", expanded=True):
            st.table({"user": [u for u, _, _ in _demo_logins()], "password": [p for _, p, _ in _demo_logins()],
                      "role": [r for _, _, r in _demo_logins()]})


def _request_logout() -> None:
    st.session_state["_logout_requested"] = True


def logout_button() -> None:
    """A plain button; the cookie component is built only on the run that logs out."""
    st.sidebar.button("Log out", on_click=_request_logout, icon=":material/logout:")


def handle_logout() -> None:
    """Called by app.py before anything else: revokes the session in the store (every copy of its cookie stops
    working), forgets it in this tab, and has the login page delete the cookie in this browser."""
    if not st.session_state.pop("_logout_requested", False):
        return
    sid = st.session_state.get(SESSION_KEY)
    if isinstance(sid, str):
        sessions.revoke(db(), sid)
    _signed_out()
    st.session_state[_FORGET_KEY] = True
    if st.session_state.pop(_SSO_KEY, None) is not None:
        st.logout()  # deletes Streamlit's identity cookie and ends the provider's session (its end_session page)


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
