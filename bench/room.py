"""The concurrency part of `python -m bench.reliability`: a room of browser sessions on one localhost server.

Each session is a Playwright context (PER_BROWSER of them per chromium process). Session k arrives k × ARRIVE_S
seconds in and logs in as a demo user, then works the way a person does, reading each page THINK_S seconds before
the next click, until `seconds` after the last arrival (so all of them work at once for at least `seconds`). It
follows its own sidebar's links in turn (overview, explorer, anomalies, statements, workshop, month close, audit
trail — the ones its role has), moves a driver slider on the workshop, downloads the CSV on the statements page and
reloads the page every fourth step (a reload is a new Streamlit session: the login must come back from the cookie).
A page load is timed from the click (or reload) to the page's heading with Streamlit's "not running" state; a session
is lost when the login form comes back; an error is an exception element, a failed wait or a server traceback.

The browser runs on the same two cores as the server, so the report also gives the CPU seconds each side used over
the run (`CpuMeter`): what a room costs the server is the figure that says whether the server keeps up. Measured
with one session on this host: a page view costs the server ~0.3 CPU-s and chromium ~1.5 CPU-s, a first login in
a fresh context ~6 and ~10. Twenty people clicking every few seconds would need more than the two cores for the
browser alone, which measures chromium, not the app (docs/reliability.md "Serving a room").
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# (url path, sidebar title): the pages a room uses, in the order each session walks them
NAV = (("", "Executive overview"), ("explorer", "Cost explorer"), ("anomalies", "Anomalies"),
       ("statements", "Statements"), ("workshop", "Allocation workshop"), ("month_close", "Month close"),
       ("audit_trail", "Audit trail"))
USERS = ("fiona", "admin", "omar", "eve", "audrey")
WAIT_MS = 120_000   # every wait's patience: a loaded machine is slow, never wrong
RELOAD_EVERY = 4
# The load generator's own cost: a page waiting for its run shows Streamlit's animated running state, drawn in
# software (no GPU) on the cores the server needs. The room's browsers draw without CSS animations or transitions
# (people's browsers animate on their own machines). Measured: no visible change in chromium's CPU (403 → 431 CPU-s
# in the 20-session runs before and after), kept because it cannot make the load generator heavier.
NO_ANIMATIONS = """(() => {
  const add = () => {
    const s = document.createElement('style');
    s.textContent = '*, *::before, *::after { animation: none !important; transition: none !important; }';
    (document.head || document.documentElement).appendChild(s);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', add); else add();
})();"""
THINK_S = (10.0, 30.0)  # a person reads a page before the next click: uniform in this range, seeded per session
ARRIVE_S = 5.0          # session k opens the login page k × ARRIVE_S seconds in: twenty arrive over ~1.5 minutes
PER_BROWSER = 4         # sessions per chromium process: one browser process for all twenty serialised their IPC
KEPT_LOG = Path(tempfile.gettempdir()) / "apportion-room-server.log"   # kept when it holds a traceback


@dataclass
class JobRun:
    """One CLI job run against the store while the room uses the app (the app's job runner takes it)."""

    what: str
    rc: int
    seconds: float
    last_line: str


@dataclass
class RoomReport:
    sessions: int
    seconds: float
    logins: list[float]
    loads: list[float]
    errors: list[str]
    lost: int
    jobs: list[JobRun] = field(default_factory=list)
    moves: list[float] = field(default_factory=list)      # workshop slider → numbers redrawn, seconds
    downloads: int = 0
    reloads: int = 0
    cpu: dict[str, float] = field(default_factory=dict)   # CPU seconds per side over the run (CpuMeter)
    browsers: int = 0                                      # sessions in chromium; the rest speak the wire
    by_kind: dict[str, dict[str, list[float]]] = field(default_factory=dict)   # "browser"/"wire" → logins, loads

    def add(self, kind: str, what: str, seconds: float) -> None:
        """One login or page load of a `kind` session: in the totals and in its kind's own figures."""
        (self.logins if what == "logins" else self.loads).append(seconds)
        self.by_kind.setdefault(kind, {"logins": [], "loads": []})[what].append(seconds)


class CpuMeter(threading.Thread):
    """CPU seconds used by the server (its process), the browser (chromium), the CLI jobs and the harness (this
    process and Playwright's driver), sampled from /proc every second: a process that ends keeps its last sample."""

    def __init__(self, server_pid: int) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.seen, self.stop = server_pid, dict[int, tuple[str, float]](), threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")

    def _side(self, pid: int, comm: str, cmdline: str) -> str | None:
        if pid == self.server_pid:
            return "server"
        if comm.startswith("chrom"):
            return "browser"
        if "-m engine" in cmdline:
            return "jobs"
        if pid == os.getpid() or "playwright" in cmdline:
            return "harness"
        return None

    def sample(self) -> None:
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
                cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
            side = self._side(int(d.name), comm, cmdline)
            if side is not None:
                self.seen[int(d.name)] = (side, (int(rest[11]) + int(rest[12])) / self.tick)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.sample()

    def totals(self) -> dict[str, float]:
        self.sample()
        out: dict[str, float] = {}
        for side, seconds in self.seen.values():
            out[side] = out.get(side, 0.0) + seconds
        return out


def cli_jobs(db: Path, bill: Path, period: str, rule_set: str, after: float, rep: RoomReport) -> None:
    """After `after` seconds: an ingest of `bill`, then the close of `period`, each through `python -m engine`
    while the server holds the store (docs/architecture.md "Jobs while the app runs")."""
    time.sleep(after)
    for what, argv in (
        ("ingest", ["ingest", str(bill), "--replace", "--user", "bench", "--json"]),
        ("close", ["allocate", "--period", period, "--ruleset", rule_set, "--actor", "bench"]),
    ):
        t = time.perf_counter()
        try:
            out = subprocess.run([sys.executable, "-m", "engine", *argv, "--db", str(db), "--wait", "600"],
                                 cwd=str(ROOT), capture_output=True, text=True, timeout=900, check=False)
            rc, text = out.returncode, (out.stdout + out.stderr).strip()
        except subprocess.TimeoutExpired:
            rc, text = -1, "timed out after 900 s"
        last = text.splitlines()[-1][:200] if text else ""
        rep.jobs.append(JobRun(what, rc, time.perf_counter() - t, last))
        if rc != 0:
            rep.errors.append(f"CLI {what} while the room ran: exit {rc}: {last}")


async def _settled(page: Any) -> None:
    """Streamlit's run has ended: the attribute its own e2e suite waits for, checked twice 100 ms apart so a run that
    has not started yet when the first check passes is waited for too."""
    from playwright.async_api import expect  # noqa: PLC0415

    idle = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    for _ in range(2):
        await page.wait_for_timeout(100)
        await expect(idle).to_be_attached(timeout=WAIT_MS)


async def _login(page: Any, url: str, user: str, password: str) -> None:
    from playwright.async_api import expect  # noqa: PLC0415

    await page.goto(url)
    await _settled(page)
    await page.wait_for_timeout(300)   # the cookie component's first answer (a rerun) comes and goes
    await _settled(page)
    await page.get_by_role("textbox", name="Username").fill(user)
    await page.get_by_role("textbox", name="Password").fill(password)
    await page.get_by_role("button", name="Login").click()
    try:
        await expect(page.get_by_text("Signed in as")).to_be_visible(timeout=15_000)
    except AssertionError:
        # as tests/e2e/conftest.login: a submit that lands while the cookie component's first rerun is in flight
        # can be dropped by Streamlit; a person clicks again, and so do we (once)
        await _settled(page)
        if await page.get_by_role("button", name="Login").count():
            await page.get_by_role("button", name="Login").click()
        await expect(page.get_by_text("Signed in as")).to_be_visible(timeout=WAIT_MS)


async def _links(page: Any) -> list[tuple[str, str]]:
    """The room's pages this user's sidebar offers (a long navigation is unfolded first)."""
    nav = page.get_by_test_id("stSidebarNav")
    more = nav.get_by_role("button", name="View")
    if await more.count():
        await more.first.click()
    return [(key, title) for key, title in NAV if await nav.get_by_role("link", name=title, exact=True).count()]


async def _follow(page: Any, title: str) -> None:
    """Click the sidebar link `title`, unfolding a long navigation first (a reload folds it again)."""
    nav = page.get_by_test_id("stSidebarNav")
    link = nav.get_by_role("link", name=title, exact=True)
    if not await link.is_visible():
        more = nav.get_by_role("button", name="View")
        if await more.count():
            await more.first.click()
    await link.click()


async def _work_on(page: Any, key: str, rep: RoomReport) -> None:
    """What a person does on the page once it is there: move a driver, take the CSV."""
    if key == "workshop":
        slider = page.get_by_role("slider").first
        if await slider.count():
            await slider.focus()
            t = time.perf_counter()
            await slider.press("ArrowRight")
            await _settled(page)
            rep.moves.append(time.perf_counter() - t)
    elif key == "statements":
        button = page.get_by_role("button", name="CSV")
        if await button.count():
            async with page.expect_download(timeout=WAIT_MS) as dl:
                await button.first.click()
            await (await dl.value).path()
            rep.downloads += 1


async def _walk(links: list[tuple[str, str]], user: str, until: float, think: random.Random, rep: RoomReport,
                visit: Callable[[str, str, bool], Awaitable[bool]]) -> None:
    """Both kinds of session's walk: the links in turn from the user's own offset, a reload (a new Streamlit session)
    every RELOAD_EVERY-th step, thinking time between pages; `visit(key, title, reload)` loads and checks one page
    and says whether to go on (False: the session was lost)."""
    step = USERS.index(user)
    while time.monotonic() < until and links:
        key, title = links[step % len(links)]
        step += 1
        reload = step % RELOAD_EVERY == 0
        if reload:
            rep.reloads += 1
        if not await visit(key, title, reload):
            return
        await asyncio.sleep(think.uniform(*THINK_S))


async def _session(browser: Any, url: str, user: str, password: str, until: float, rep: RoomReport,
                   k: int) -> None:
    from playwright.async_api import expect  # noqa: PLC0415

    think = random.Random(k)
    await asyncio.sleep(k * ARRIVE_S)

    ctx = await browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True,
                                    reduced_motion="reduce")
    await ctx.add_init_script(NO_ANIMATIONS)
    page = await ctx.new_page()
    page.set_default_navigation_timeout(WAIT_MS)
    page.set_default_timeout(WAIT_MS)
    try:
        t = time.perf_counter()
        await _login(page, url, user, password)
        rep.add("browser", "logins", time.perf_counter() - t)
        await page.wait_for_timeout(1000)   # the session cookie is written by the component after the rerun
        links = await _links(page)

        async def visit(key: str, title: str, reload: bool) -> bool:
            t = time.perf_counter()
            if reload:
                await page.goto(f"{url}/{key}")
            else:
                await _follow(page, title)
            if key:
                await expect(page).to_have_url(re.compile(rf"/{key}(\?.*)?$"), timeout=WAIT_MS)
            await _settled(page)
            if await page.get_by_text("Signed in as").count() == 0:
                if await page.get_by_role("textbox", name="Username").count():
                    rep.lost += 1
                    return False
            await expect(page.get_by_role("heading", name=title).first).to_be_visible(timeout=WAIT_MS)
            rep.add("browser", "loads", time.perf_counter() - t)
            if await page.locator('[data-testid="stException"]').count():
                rep.errors.append(f"{user} /{key}: an exception is shown")
            await _work_on(page, key, rep)
            return True

        await _walk(links, user, until, think, rep, visit)
    except Exception as exc:  # noqa: BLE001 - every failure of a session is a finding, counted
        rep.errors.append(f"{user}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await ctx.close()


async def _wire_work(w: Any, key: str, shown: Any, rep: RoomReport) -> None:
    """`_work_on` over the wire: one step right on the workshop's first slider, the statement CSV fetched."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: PLC0415

    if key == "workshop" and shown.of("slider"):
        slider = shown.of("slider")[0]
        now = (list(slider.value) or list(slider.default))[0]
        moved = WidgetState(id=slider.id)
        moved.double_array_value.data.append(min(now + slider.step, slider.max))
        rep.moves.append((await w.run(key, [moved])).seconds)
    elif key == "statements":
        csv = [b for b in shown.of("download_button") if b.label.endswith("CSV")]
        if csv and len(await w.download(csv[0])) > 0:
            rep.downloads += 1


async def _wire_session(url: str, user: str, password: str, until: float, rep: RoomReport, k: int) -> None:
    """`_session` without a browser (bench/wire.py): the same arrival, login, pages in turn, slider, CSV, reload
    every RELOAD_EVERY-th step (a new connection carrying the cookie), thinking time and checks."""
    from bench.wire import WireSession  # noqa: PLC0415

    think = random.Random(k)
    await asyncio.sleep(k * ARRIVE_S)
    w = WireSession(url, timeout_s=WAIT_MS / 1000)
    try:
        await w.connect()
        t = time.perf_counter()
        await w.login(user, password)
        rep.add("wire", "logins", time.perf_counter() - t)
        titles = {title for _, title in w.pages.values()}
        links = [(key, title) for key, title in NAV if title in titles]

        async def visit(key: str, title: str, reload: bool) -> bool:
            t = time.perf_counter()
            if reload:
                await w.reconnect()
            shown = await w.run(key)
            if not shown.signed_in() and shown.login_form():
                rep.lost += 1
                return False
            if not shown.heading(title):
                rep.errors.append(f"{user} (wire) /{key}: no heading {title!r} after the run")
            rep.add("wire", "loads", time.perf_counter() - t)
            rep.errors += [f"{user} (wire) /{key}: {e}" for e in shown.exceptions()]
            await _wire_work(w, key, shown, rep)
            return True

        await _walk(links, user, until, think, rep, visit)
    except Exception as exc:  # noqa: BLE001 - every failure of a session is a finding, counted
        rep.errors.append(f"{user} (wire): {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
    finally:
        await w.close()


def room(sessions: int, seconds: float, work: Path, source_db: Path | None = None, *,
         jobs: bool = False, browsers: int | None = None) -> RoomReport:
    """`source_db`: a demo store to copy (the e2e slice passes the suite's); otherwise one is generated. `jobs`: an
    ingest and a month close run through the CLI while the sessions do (`cli_jobs`). `browsers`: how many of the
    sessions run in chromium (all of them when None); the others are wire sessions (bench/wire.py)."""
    import secrets  # noqa: PLC0415

    from playwright.async_api import async_playwright  # noqa: PLC0415

    from bench.reliability import focus_bill  # noqa: PLC0415
    from data.demo_close import close_months  # noqa: PLC0415
    from data.generate import DEMO_LOGINS, generate  # noqa: PLC0415
    from engine import store  # noqa: PLC0415
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: PLC0415

    os.environ.setdefault("APPORTION_COOKIE_KEY", secrets.token_urlsafe(48))
    db = work / "room.duckdb"
    if source_db is not None:
        shutil.copy(source_db, db)
    else:
        con = store.connect(db)
        generate(con, lines=40_000)
        close_months(con, 2)
        con.close()
    in_browser = sessions if browsers is None else max(0, min(browsers, sessions))
    rep = RoomReport(sessions, seconds, [], [], [], 0, browsers=in_browser)
    runner: threading.Thread | None = None
    if jobs:
        from data.demo_close import ensure_rule_set  # noqa: PLC0415

        con = store.connect(db)
        try:
            rule_set, _ = ensure_rule_set(con)
            open_periods = [r[0] for r in con.execute(
                "SELECT DISTINCT billing_period FROM cost_line WHERE billing_period NOT IN (SELECT period FROM "
                "allocation_run WHERE status = 'posted') ORDER BY 1").fetchall()]
        finally:
            con.close()
        bill = focus_bill(work / "room_bill.csv", "room-acct", 20_000)
        runner = threading.Thread(target=cli_jobs, args=(db, bill, open_periods[-1], rule_set,
                                                         min(30.0, seconds / 4), rep), daemon=True)
    server = start_server(db, work / "room.log")
    meter = CpuMeter(server.proc.pid)
    try:
        meter.start()
        if runner is not None:
            runner.start()

        async def main() -> None:
            async with async_playwright() as p:
                chromiums = [await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                             for _ in range(-(-in_browser // PER_BROWSER))]
                until = time.monotonic() + sessions * ARRIVE_S + seconds   # everyone works `seconds` at once
                users = [USERS[k % len(USERS)] for k in range(sessions)]
                # browser and wire sessions interleave, so both kinds arrive early and late
                in_chromium = sorted({round(i * sessions / in_browser) for i in range(in_browser)})
                await asyncio.gather(*(
                    _session(chromiums[in_chromium.index(k) // PER_BROWSER], server.url, u, DEMO_LOGINS[u][0],
                             until, rep, k)
                    if k in in_chromium else _wire_session(server.url, u, DEMO_LOGINS[u][0], until, rep, k)
                    for k, u in enumerate(users)))
                rep.cpu = meter.totals()   # before the browsers close: their renderers' last samples count
                for browser in chromiums:
                    await browser.close()

        t0 = time.perf_counter()
        asyncio.run(main())
        rep.cpu["wall"] = time.perf_counter() - t0
        if runner is not None:
            runner.join(timeout=1800)
            rep.cpu["jobs"] = meter.totals().get("jobs", 0.0)
    finally:
        meter.stop.set()
        stop_server(server)
    log = (work / "room.log").read_text(errors="replace")
    if "Traceback" in log:
        shutil.copy(work / "room.log", KEPT_LOG)
        last = log[log.rindex("Traceback"):].strip().splitlines()
        rep.errors.append(f"the server log holds a traceback (kept in {KEPT_LOG}): {' | '.join(last[-3:])[:300]}")
    return rep
