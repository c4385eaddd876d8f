"""The room's browserless session (bench/wire.py) against the suite's server: it must be a real Streamlit session —
the app's login form and cookie, the page guards, a workshop slider that moves the charges, a statement download —
or the twenty-session figures it gives (docs/reliability.md "Serving a room") would measure nothing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from bench.wire import WireSession
from data.generate import DEMO_LOGINS
from tests.e2e.conftest import Server


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on a thread of its own: pytest-playwright's sync API keeps an event loop running on the main
    thread once any browser test of the session has used it."""
    failed: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            failed.append(exc)
    t = threading.Thread(target=target)
    t.start()
    t.join()
    if failed:
        raise failed[0]


def _metric(run: object, label: str) -> tuple[str, str]:
    found = [(m.body, m.delta) for m in run.of("metric") if m.label == label]  # type: ignore[attr-defined]
    assert found, f"no metric {label!r}"
    return found[0]


async def _journey(url: str) -> None:
    w = WireSession(url, timeout_s=120)
    await w.connect()
    try:
        signed = await w.login("fiona", DEMO_LOGINS["fiona"][0])
        assert signed.signed_in()
        assert {"workshop", "statements", "month_close"} <= set(w.pages)

        shown = await w.run("workshop")
        assert shown.heading("Allocation workshop") and not shown.exceptions()
        total, _ = _metric(shown, "Total charged")
        assert _metric(shown, "Digital")[1] == "$0.00"     # the baseline: no move yet
        slider = shown.of("slider")[0]
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        moved = WidgetState(id=slider.id)
        moved.double_array_value.data.append((list(slider.value) or list(slider.default))[0] + slider.step)
        after = await w.run("workshop", [moved])
        assert _metric(after, "Total charged")[0] == total          # the move re-splits, it does not add
        assert _metric(after, "Digital")[1] not in ("", "$0.00")     # and the charges moved

        statements = await w.run("statements")
        csv = [b for b in statements.of("download_button") if b.label == "CSV"]
        assert csv, [b.label for b in statements.of("download_button")]
        body = (await w.download(csv[0])).decode("utf-8-sig")
        assert body.count("\n") > 1 and "," in body.splitlines()[0]

        await w.reconnect()                                          # a reload: the cookie signs the session in
        again = await w.run("month_close")
        assert again.signed_in() and again.heading("Month close") and not again.login_form()
    finally:
        await w.close()


def test_a_wire_session_is_a_real_session(server: Server) -> None:
    _run(_journey(server.url))


def test_a_wire_session_without_the_cookie_sees_the_login_form(server: Server) -> None:
    async def run() -> None:
        w = WireSession(server.url, timeout_s=120)
        await w.connect()
        try:
            shown = await w.run("month_close")
            assert shown.login_form() and not shown.signed_in()
        finally:
            await w.close()
    _run(run())


def test_a_download_survives_other_sessions_runs(server: Server) -> None:
    """Every script run ends with Streamlit's orphan pass, and two passes delete a download nobody references: the
    file a click made must still be there when the browser fetches it, however many runs other sessions finish in
    between (ui/downloads.py `_pin`; a room of twenty hit the 404)."""
    async def run() -> None:
        owner, other = WireSession(server.url, timeout_s=120), WireSession(server.url, timeout_s=120)
        await owner.connect()
        await other.connect()
        try:
            await owner.login("fiona", DEMO_LOGINS["fiona"][0])
            await other.login("eve", DEMO_LOGINS["eve"][0])
            statements = await owner.run("statements")
            csv = [b for b in statements.of("download_button") if b.label == "CSV"][0]
            url = await owner.file_url(csv)
            for page in ("explorer", "anomalies", "explorer"):   # three runs elsewhere: three orphan passes
                await other.run(page)
            body = (await owner.fetch(url)).decode("utf-8-sig")
            assert body.count("\n") > 1
        finally:
            await owner.close()
            await other.close()
    _run(run())
