"""Real-server browser tests: `streamlit run app.py` on a free port, Debian chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
# Web-first assertions wait for what they assert; on a loaded 2-core machine a rerun can take several seconds, so
# the default 5 s is raised for every browser test (a passing assertion still returns as soon as it holds).
expect.set_options(timeout=20_000)

ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    db_path: Path


def start_server(db_path: Path, log_path: Path, *, port: int | None = None,
                 extra_args: Sequence[str] = ()) -> Server:
    """`port` when the caller must know it first (an OIDC redirect URI); `extra_args` are more Streamlit options."""
    port = port if port is not None else _free_port()
    env = {**os.environ, "APPORTION_DB_PATH": str(db_path)}
    log = open(log_path, "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", *extra_args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early; see {log_path}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return Server(url, proc, db_path)
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not become healthy; see {log_path}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it with apt-get")
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, object]:
    return {"viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="session")
def e2e_db(demo_db_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "app.duckdb"
    shutil.copy(demo_db_path, path)
    return path


@pytest.fixture(scope="session")
def server(e2e_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(e2e_db, tmp_path_factory.mktemp("logs") / "streamlit.log")
    yield s
    stop_server(s)


@contextmanager
def private_server(demo_db_path: Path, folder: Path) -> Iterator[Server]:
    """A server of its own on a private copy of the demo store, for journeys that write (a post, a save, a new
    user): the shared `server` keeps the figures the other browser tests read."""
    db = folder / "app.duckdb"
    shutil.copy(demo_db_path, db)
    s = start_server(db, folder / "streamlit.log")
    try:
        yield s
    finally:
        stop_server(s)


def wait_idle(page: Page, timeout: float = 30_000) -> None:
    """Streamlit's own e2e suite waits for this attribute before asserting."""
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_be_attached(
        timeout=timeout
    )
    page.wait_for_timeout(150)


def pick(page: Page, box: Locator, option: str, *, typed: str | None = None) -> None:
    """Choose `option` in the selectbox `box` and check it held. On a loaded machine a rerun that lands while the
    list is open re-renders it (the click is lost, or lands on nothing): open it again, up to three times."""
    for attempt in range(3):
        wait_idle(page)
        box.click()
        if typed is not None:
            box.fill(typed)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            wait_idle(page)
            expect(box).to_have_value(option, timeout=5_000)
            return
        except (PlaywrightTimeoutError, AssertionError):
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def fill_settled(page: Page, box: Locator, text: str) -> None:
    """Type `text` into `box` once no rerun is in flight, and check it is still there (a rerun that re-renders the
    form can drop what was typed a moment before it)."""
    for attempt in range(3):
        wait_idle(page)
        box.fill(text)
        box.press("Tab")   # commit the value, as a person leaving the field does
        wait_idle(page)
        try:
            expect(box).to_have_value(text, timeout=5_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def open_page(page: Page, name: str) -> None:
    """Follow the sidebar link `name` (unfolding a long navigation's "View N more" first) and wait for the run."""
    nav = page.get_by_test_id("stSidebarNav")
    more = nav.get_by_role("button", name="View")
    if more.count() and not nav.get_by_role("link", name=name).count():
        more.first.click()
    nav.get_by_role("link", name=name).click()
    wait_idle(page)


def login(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url)
    wait_idle(page)
    page.wait_for_timeout(400)  # let the cookie component's first answer (a rerun) come and go
    wait_idle(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Login").click()
    try:
        expect(page.get_by_text("Signed in as")).to_be_visible(timeout=10_000)
    except AssertionError:
        # A submit that lands while the login cookie component's own first rerun is in flight can be dropped by
        # Streamlit; a person clicks again, and so do we (once).
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)
    wait_idle(page)
    # The login cookie is written by a component's JavaScript after the rerun; wait so a reload keeps the session.
    for _ in range(100):
        if any(c["name"] == "apportion_auth" for c in page.context.cookies()):
            break
        page.wait_for_timeout(100)


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
