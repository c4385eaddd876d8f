"""Login and role-based navigation, exercised on the real scripts with AppTest."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data.generate import DEMO_LOGINS
from tests.app.conftest import ROOT, TIMEOUT, logged_in, page_as
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
