"""Downloads do not outlive the session that made them: a statement CSV fetched by an app owner in a real browser is
gone from /media once that browser has closed (no cookie needed to try, so nothing may answer 200)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Browser, expect

from data.generate import DEMO_LOGINS
from tests.e2e.conftest import Server, login, wait_idle

pytestmark = pytest.mark.e2e

GONE_WITHIN_S = 45.0   # ui/downloads.py sweeps a generated file 10–20 s after it was made


def _status(url: str) -> int:
    """The HTTP status of a bare GET: no cookie, no session, as anyone who got hold of the URL would send it."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_statement_csv_is_gone_after_the_owner_closes_the_browser(browser: Browser, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    login(page, server.url, "omar", DEMO_LOGINS["omar"][0])
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Statements").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Statements")).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("button", name="CSV").click()
    url = dl.value.url
    assert "/media/" in url, url
    assert dl.value.path().read_bytes().startswith(b"cost_centre,period,")
    context.close()

    deadline = time.monotonic() + GONE_WITHIN_S
    seen = _status(url)
    while seen == 200 and time.monotonic() < deadline:
        time.sleep(1)
        seen = _status(url)
    assert seen == 404, f"{url} still answers {seen} {GONE_WITHIN_S:.0f} s after its owner's browser closed"
