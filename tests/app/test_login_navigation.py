"""Login and role-based navigation, exercised on the real scripts with AppTest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import bcrypt
import pytest
from streamlit.testing.v1 import AppTest

from data.generate import DEMO_LOGINS
from engine import store
from engine.access import sessions, users
from engine.store import audit
from tests.app.conftest import ROOT, TIMEOUT, logged_in, page_as
from ui.auth import SESSION_KEY
from ui.navigation import PAGES as ALL_PAGES
from ui.navigation import pages_for

PAGES = [p for p in ALL_PAGES if p.path.exists()]  # a page listed before its file lands is simply not shown

pytestmark = pytest.mark.usefixtures("app_env")


def test_anonymous_visitor_gets_the_login_form_and_demo_logins() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    shown = at.table[0].value
    assert sorted(shown["user"].tolist()) == sorted(DEMO_LOGINS)
    assert len(at.metric) == 0


def _sql(path: Path, q: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    con = store.connect(path)
    try:
        return con.execute(q, params or []).fetchall()
    finally:
        con.close()


def _new_user(path: Path, name: str, role: str, password: str = "pw-" + "x" * 12) -> str:
    """A user of this test alone, so that locking or disabling it leaves the other tests' users alone."""
    pw = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
    _sql(path, "INSERT INTO app_user (username, display_name, role, password_hash) VALUES (?, ?, ?, ?)",
         [name, name.title(), role, pw])
    return password


def _shows_login_only(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.metric) == 0 and len(at.dataframe) == 0
    assert not any("Signed in as" in c.value for c in at.sidebar.caption)


def test_wrong_password_is_refused() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.text_input[0].input("eve")
    at.text_input[1].input("not-the-password")
    at.button[0].click().run()
    assert any("incorrect" in e.value for e in at.error)
    assert at.session_state["authentication_status"] is False
    assert len(at.metric) == 0


def test_real_login_form_lets_the_executive_in() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.text_input[0].input("eve")
    at.text_input[1].input(DEMO_LOGINS["eve"][0])
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["authentication_status"] is True
    assert at.session_state["username"] == "eve"
    assert any("Signed in" in s.value for s in at.success)  # the browser's cookie component reruns from here
    at.button(key="login_continue").click().run()
    assert any(m.label == "Total spend" for m in at.metric)


@pytest.mark.parametrize("username", sorted(DEMO_LOGINS))
def test_each_role_lands_on_an_allowed_page(username: str) -> None:
    role = DEMO_LOGINS[username][1]
    at = logged_in(username).run()
    assert not at.exception
    assert any("Signed in as" in c.value for c in at.sidebar.caption)
    first = pages_for(role)[0]
    assert at.title[0].value == first.title


@pytest.mark.parametrize("username", sorted(DEMO_LOGINS))
def test_disallowed_pages_refuse_the_role(username: str) -> None:
    role = DEMO_LOGINS[username][1]
    for p in PAGES:
        at = page_as(p.key, username).run()
        assert not at.exception, (p.key, at.exception)
        if role in p.roles:
            assert not any("cannot open this page" in e.value for e in at.error), p.key
        else:
            assert any("cannot open this page" in e.value for e in at.error), p.key
            assert len(at.metric) == 0 and len(at.dataframe) == 0


@pytest.mark.parametrize("key", [p.key for p in PAGES])
def test_every_page_shows_only_login_to_anonymous(key: str) -> None:
    at = page_as(key, None).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert len(at.metric) == 0 and len(at.dataframe) == 0


@pytest.mark.parametrize("username", sorted(DEMO_LOGINS))
def test_switch_page_reaches_allowed_pages_only(username: str) -> None:
    role = DEMO_LOGINS[username][1]
    for p in PAGES:
        at = logged_in(username).run()
        if role in p.roles:
            at.switch_page(str(p.path)).run()
            assert not at.exception, (p.key, at.exception)
            assert at.title[0].value == p.title
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(str(p.path))


def test_a_made_up_session_id_signs_nobody_in() -> None:
    """A signed-in flag without a live session record (what a cookie minted with the cookie key amounts to once its
    signature checks out) shows the login form."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state[SESSION_KEY] = "made-up-session-id"
    at.session_state["authentication_status"] = True
    at.session_state["username"] = "fiona"
    _shows_login_only(at.run())
    assert at.session_state["authentication_status"] is None and SESSION_KEY not in at.session_state


def test_logout_revokes_the_session_everywhere(app_env: Path) -> None:
    at = logged_in("fiona").run()
    sid = at.session_state[SESSION_KEY]
    assert any("Signed in as" in c.value for c in at.sidebar.caption)
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    # AppTest reruns only the page script after a first run (it resets Streamlit's "pages directory" flag each
    # run), so the click's effect, the flag its callback sets, is run through app.py in a new run of this session.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state[SESSION_KEY] = sid
    at.session_state["_logout_requested"] = True
    _shows_login_only(at.run())  # and no StreamlitDuplicateElementKey: each cookie component is built once per run
    assert _sql(app_env, "SELECT revoked_reason FROM app_session WHERE session_hash = ?",
                [sessions.session_hash(sid)]) == [("logout",)]
    # the same session id in another tab (a copied cookie) is refused too
    other = AppTest.from_file(str(ROOT / "pages" / "month_close.py"), default_timeout=TIMEOUT)
    other.session_state[SESSION_KEY] = sid
    _shows_login_only(other.run())


def test_a_tab_open_when_its_session_is_revoked_shows_the_login_form_on_its_next_run(app_env: Path) -> None:
    name = "tab_user"
    _new_user(app_env, name, "auditor")
    at = logged_in(name).run()
    assert at.title[0].value != "Apportion"  # signed in
    con = store.connect(app_env)
    try:
        admin = users.get_user(con, "admin")
        assert users.disable_user(con, name, admin, reason="test") >= 1
        audit.verify(con)
    finally:
        con.close()
    at.run()
    _shows_login_only(at)


def test_lockout_through_the_form_and_release(app_env: Path) -> None:
    name = "lock_user"
    password = _new_user(app_env, name, "executive")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()

    def attempt(pw: str) -> list[str]:
        at.text_input[0].input(name)
        at.text_input[1].input(pw)
        at.button[0].click().run()
        assert not at.exception
        return [e.value for e in at.error]

    for i in range(4):
        assert attempt(f"wrong-{i}") == ["Username or password is incorrect."]
    errors = attempt("wrong-4")
    assert len(errors) == 1 and errors[0].startswith("Too many failed sign-ins; try again after ")
    assert errors[0].endswith(" UTC.")
    assert attempt(password) == errors  # the right password is refused while locked
    assert at.session_state["authentication_status"] is False and SESSION_KEY not in at.session_state
    # the window passes (moved back rather than waited for)
    _sql(app_env, "UPDATE login_guard SET locked_until = locked_until - ? WHERE username = ?",
         [timedelta(minutes=16), name])
    assert attempt(password) == []
    assert any("Signed in" in s.value for s in at.success)
    assert at.session_state[SESSION_KEY]
