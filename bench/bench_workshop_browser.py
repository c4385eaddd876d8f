"""Workshop latency as a person feels it: from a slider key press in Debian chromium to the updated business-unit
numbers on screen, on the demo organisation (200k lines) and on a 10M-line store.

Goals (issue 18): median ≤ 150 ms, p90 ≤ 250 ms on the demo store; ≤ 300 ms median at 10M lines. Each store is
measured in RUNS fresh server+browser runs of MOVES key presses; the table gives every run and the median of the
runs' medians, with the machine's load average at the start of each run (the machine is shared). The first open of
a month (the one heavy pre-aggregation) is reported separately. Stores are built once under data/bench/ and reused.

    python -m bench.bench_workshop_browser            # demo store only (the 10M store takes ~10 min to build)
    WORKSHOP_BENCH_SIZES=demo,10M python -m bench.bench_workshop_browser

A room: `WORKSHOP_BENCH_SESSIONS=5` (default) also runs that many sessions at once against one server — each its own
browser process and login, all starting their moves together at a barrier; goal ≤ 400 ms median over every move of
every session (issue 18). `WORKSHOP_BENCH_SESSIONS=0` skips it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import secrets
import statistics
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from data.demo_close import ensure_rule_set
from data.generate import DEMO_LOGINS, generate
from engine import store
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, login, start_server, stop_server, wait_idle

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "data" / "bench"
RESULTS = ROOT / "bench" / "results" / "workshop_browser.md"
SIZES = {"demo": ("demo (200k lines)", 200_000), "10M": ("10M lines", 10_000_000)}
MOVES = 21
RUNS = int(os.environ.get("WORKSHOP_BENCH_RUNS", "3"))
SESSIONS = int(os.environ.get("WORKSHOP_BENCH_SESSIONS", "5"))

_VALUE_JS = """() => {
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const label = m.querySelector('[data-testid="stMetricLabel"]');
    if (label && label.innerText.trim() === 'Retail') {
      const d = m.querySelector('[data-testid="stMetricDelta"]');
      return d ? d.innerText : null;
    }
  }
  return null;
}"""


def _store(lines: int) -> Path:
    path = BENCH_DIR / f"workshop_{lines}.duckdb"
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        con = store.connect(tmp)
        generate(con, lines=lines)
        ensure_rule_set(con)
        con.close()
        tmp.rename(path)
    return path


def _measure(page: Page) -> list[float]:
    slider = page.get_by_role("slider").first
    timings = []
    for i in range(MOVES):
        before = page.evaluate(_VALUE_JS)
        slider.focus()
        t0 = time.perf_counter()
        slider.press("ArrowLeft" if i % 2 == 0 else "ArrowRight")
        page.wait_for_function(f"(old) => {{ const v = ({_VALUE_JS})(); return v !== null && v !== old; }}",
                               arg=before, polling="raf", timeout=60_000)
        timings.append((time.perf_counter() - t0) * 1000)
        wait_idle(page)
    return timings[1:]  # the first move also warms the fragment's code path


def _one_run(db: Path, lines: int) -> tuple[list[float], float]:
    server = start_server(db, BENCH_DIR / f"workshop_{lines}.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            login(page, server.url, "fiona", DEMO_LOGINS["fiona"][0])
            t0 = time.perf_counter()
            page.goto(server.url + "/workshop")
            page.wait_for_function(f"() => ({_VALUE_JS})() !== null", timeout=600_000, polling=200)
            first_open = time.perf_counter() - t0
            wait_idle(page)
            timings = _measure(page)
            browser.close()
    finally:
        stop_server(server)
    return timings, first_open


def _session(url: str, barrier: Any, lock: Any) -> list[float]:
    """One person of the room, in its own process: log in and open the workshop (one session at a time: this
    measures moving, not five logins on two cores), wait for the others, move."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        with lock:
            login(page, url, "fiona", DEMO_LOGINS["fiona"][0])
            page.goto(url + "/workshop")
            page.wait_for_function(f"() => ({_VALUE_JS})() !== null", timeout=600_000, polling=200)
            wait_idle(page)
        barrier.wait(timeout=900)
        timings = _measure(page)
        browser.close()
    return timings


def _room_run(db: Path, lines: int, sessions: int) -> list[list[float]]:
    """`sessions` people moving sliders at once on one server: every session's move timings."""
    server = start_server(db, BENCH_DIR / f"workshop_{lines}_room.log")
    try:
        ctx = mp.get_context("spawn")
        with ctx.Manager() as manager:
            barrier, lock = manager.Barrier(sessions), manager.Lock()
            with ctx.Pool(sessions) as pool:
                return pool.starmap(_session, [(server.url, barrier, lock)] * sessions)
    finally:
        stop_server(server)


def run() -> str:
    os.environ.setdefault("APPORTION_COOKIE_KEY", secrets.token_urlsafe(48))
    rows: list[str] = []
    summary: list[str] = []
    room: list[str] = []
    for size in os.environ.get("WORKSHOP_BENCH_SIZES", "demo").split(","):
        label, lines = SIZES[size.strip()]
        db = _store(lines)
        medians, p90s = [], []
        for n in range(1, RUNS + 1):
            load = os.getloadavg()[0]
            timings, first_open = _one_run(db, lines)
            q = statistics.quantiles(timings, n=10)
            medians.append(statistics.median(timings))
            p90s.append(q[-1])
            rows.append(f"| {label} | {n} | {load:.1f} | {len(timings)} | {medians[-1]:.0f} | {q[-1]:.0f} | "
                        f"{min(timings):.0f} | {first_open:.1f} |")
        summary.append(f"| {label} | {RUNS} | {statistics.median(medians):.0f} | {statistics.median(p90s):.0f} |")
        if SESSIONS > 1:
            load = os.getloadavg()[0]
            per_session = _room_run(db, lines, SESSIONS)
            every = [t for ts in per_session for t in ts]
            q = statistics.quantiles(every, n=10)
            medians_each = ", ".join(f"{statistics.median(ts):.0f}" for ts in per_session)
            room.append(f"| {label} | {SESSIONS} | {load:.1f} | {len(every)} | {statistics.median(every):.0f} | "
                        f"{q[-1]:.0f} | {medians_each} |")
    table = "\n".join([
        "# Workshop slider latency (browser)", "",
        "Key press on the first driver-weight slider → the Retail charge delta changes on screen; Debian chromium,",
        f"headless, {MOVES - 1} moves after one warm-up per run. Goal: median ≤ 150 ms, p90 ≤ 250 ms (demo);",
        "≤ 300 ms median (10M lines). Load = 1-minute load average when the run started (2 cores, shared).", "",
        "| store | runs | median of medians ms | median p90 ms |", "|---|---|---|---|", *summary, "",
        "| store | run | load | moves | median ms | p90 ms | min ms | first open of the month s |",
        "|---|---|---|---|---|---|---|---|", *rows, "",
        *(["A room: sessions moving sliders at the same time on one server (each its own chromium and login, "
           "started together). Goal: median ≤ 400 ms over every move.", "",
           "| store | sessions | load | moves | median ms | p90 ms | median per session ms |",
           "|---|---|---|---|---|---|---|", *room, ""] if room else []),
    ])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table)
    return table


if __name__ == "__main__":
    print(run())
