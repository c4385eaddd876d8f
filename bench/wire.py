"""A room session without a browser: Streamlit's own websocket protocol, spoken by the harness.

Twenty chromium processes on this 2-core host spend the cores on rendering (docs/reliability.md "Serving a room"),
so the room's twenty sessions are some real browsers (bench/room.py) and the rest `WireSession`s: each opens
`/_stcore/stream` the way the frontend does, sends the same BackMsgs (`rerun_script` with the page's script hash,
widget states, the fragment's auto-reruns, `backend_operation_request` for a download) and reads the same
ForwardMsgs (deltas, navigation, script_finished). The server cannot tell it from a browser: it is a Streamlit
session, with the app's own login form, its cookie (taken from the cookie component's arguments and sent back on
the next connection, as the browser stores it) and its page guards. What it leaves out is the browser's own work:
drawing (layout, the data grids' canvas, Vega charts) and the static assets a first load fetches. It reports no
cached messages with its reruns, so the server sends every element in full, as to a browser with a cold cache (a
warm one gets references to the large elements it holds).

The kept libraries: `websockets` (the client; it is what uvicorn serves Streamlit's websocket with) and `httpx`
for the media file a download fetches; the messages are Streamlit's own protobuf classes.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


class WireError(Exception):
    """The server answered something a browser would show as a failure (or did not answer in time)."""


@dataclass
class Run:
    """What one script run sent: its elements (kind, proto) in order, and how long it took."""

    elements: list[tuple[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def of(self, kind: str) -> list[Any]:
        return [e for k, e in self.elements if k == kind]

    def texts(self) -> list[str]:
        return [e.body for e in self.of("markdown")] + [e.body for e in self.of("heading")]

    def heading(self, title: str) -> bool:
        return any(title in h.body for h in self.of("heading"))

    def signed_in(self) -> bool:
        return any("Signed in as" in t for t in self.texts())

    def login_form(self) -> bool:
        return any(t.label == "Username" for t in self.of("text_input"))

    def exceptions(self) -> list[str]:
        return [f"{e.type}: {e.message}"[:200] for e in self.of("exception")]


class WireSession:
    """One Streamlit session over the websocket. `cookies` persist across `reconnect()`, as a browser's do."""

    def __init__(self, base_url: str, timeout_s: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.cookies: dict[str, str] = {}
        self.pages: dict[str, tuple[str, str]] = {}    # url path → (script hash, title)
        self.session_id = ""
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._run = Run()
        self._finished = asyncio.Event()
        self._responses: dict[str, asyncio.Future[Any]] = {}
        self._fragment: tuple[str, float] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self._page = ("", "")    # (script hash, url path) of the page on screen
        self.fragment_runs = 0

    # -- connection ------------------------------------------------------------------------------------------------
    async def connect(self) -> None:
        from websockets.asyncio.client import connect  # noqa: PLC0415
        from websockets.typing import Origin, Subprotocol  # noqa: PLC0415

        uri = self.base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        self._ws = await connect(uri, subprotocols=[Subprotocol("streamlit")], origin=Origin(self.base_url),
                                 additional_headers=headers, max_size=None, open_timeout=self.timeout_s)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self._stop_ticker()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing: whatever the reader ended with
                pass
        self._ws = self._reader = None

    async def reconnect(self) -> None:
        """A reload: a new Streamlit session, the cookie sent with the handshake."""
        await self.close()
        await self.connect()

    async def _read(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            self._handle(msg)

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
        elif kind == "navigation":
            self.pages = {p.url_pathname: (p.page_script_hash, p.page_name) for p in msg.navigation.app_pages}
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            self._run.elements.append((el.WhichOneof("type") or "", getattr(el, el.WhichOneof("type") or "empty")))
        elif kind == "auto_rerun":
            self._fragment = (msg.auto_rerun.fragment_id, float(msg.auto_rerun.interval))
        elif kind == "script_finished" and msg.script_finished in FINISHED:
            self._finished.set()
        elif kind == "backend_operation_response":
            fut = self._responses.pop(msg.backend_operation_response.request_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.backend_operation_response)

    # -- what a browser sends --------------------------------------------------------------------------------------
    async def run(self, path: str = "", widgets: list[WidgetState] | None = None, query: str = "") -> Run:
        """Rerun the script on page `path` (its url path; "" = the default page) with these widget states; returns
        when the run has finished (a run ended early by a rerun is waited past)."""
        async with self._busy:
            return await self._rerun(path, widgets or [], query)

    async def _rerun(self, path: str, widgets: list[WidgetState], query: str, fragment: str = "") -> Run:
        page_hash = self.pages.get(path, ("", ""))[0] if path else ""
        if not fragment:
            self._stop_ticker()
            self._fragment = None
        back = BackMsg()
        cs = back.rerun_script
        cs.query_string = query
        cs.page_script_hash = page_hash
        cs.page_name = path
        cs.widget_states.widgets.extend(widgets)
        if fragment:
            cs.fragment_id, cs.is_auto_rerun = fragment, True
        self._run, self._finished = Run(), asyncio.Event()
        t = time.perf_counter()
        await self._ws.send(back.SerializeToString())
        if fragment:
            return self._run   # a fragment tick: the browser does not wait for it either
        try:
            await asyncio.wait_for(self._finished.wait(), self.timeout_s)
        except TimeoutError as exc:
            raise WireError(f"/{path}: no end of the script run within {self.timeout_s:.0f} s") from exc
        self._run.seconds = time.perf_counter() - t
        self._page = (page_hash, path)
        if self._fragment is not None:
            self._ticker = asyncio.create_task(self._tick(*self._fragment))
        return self._run

    async def _tick(self, fragment: str, interval: float) -> None:
        """The browser's timer for a `run_every` fragment: rerun it every `interval` seconds while the page shows."""
        while True:
            await asyncio.sleep(interval)
            async with self._busy:
                await self._rerun(self._page[1], [], "", fragment=fragment)
                self.fragment_runs += 1

    def _stop_ticker(self) -> None:
        if self._ticker is not None and self._ticker is not asyncio.current_task():
            self._ticker.cancel()
        self._ticker = None

    async def login(self, username: str, password: str) -> Run:
        """The login form, then the cookie component's answer (which reruns the app signed in)."""
        first = await self.run()
        inputs = {t.label: t for t in first.of("text_input")}
        submit = [b for b in first.of("button") if b.is_form_submitter and b.label == "Login"]
        if "Username" not in inputs or "Password" not in inputs or not submit:
            raise WireError("the login form was not shown")
        user = WidgetState(id=inputs["Username"].id, string_value=username)
        pw = WidgetState(id=inputs["Password"].id, string_value=password)
        signed = await self.run(widgets=[user, pw, WidgetState(id=submit[0].id, trigger_value=True)])
        setters = [c for c in signed.of("component_instance")
                   if json.loads(c.json_args or "{}").get("method") == "set"]
        if not setters:
            said = signed.exceptions() or signed.texts()
            raise WireError(f"no session cookie after signing in as {username}: {said}")
        args = json.loads(setters[0].json_args)
        self.cookies[str(args["cookie"])] = str(args["value"])
        done = await self.run(widgets=[WidgetState(id=setters[0].id, json_value="true")])
        if not done.signed_in():
            raise WireError(f"{username}: not signed in after the cookie was written")
        return done

    async def download(self, button: Any) -> bytes:
        """A download button's click: the deferred file is made on the server, then fetched. Returns its bytes."""
        return await self.fetch(await self.file_url(button))

    async def file_url(self, button: Any) -> str:
        """The click's first half: ask the server to make a deferred file (the button's callable runs there)."""
        if not button.deferred_file_id:
            return str(button.url)
        back = BackMsg()
        req = back.backend_operation_request
        req.request_id = f"dl-{time.monotonic_ns()}"
        req.session_id = self.session_id
        req.deferred_file.file_id = button.deferred_file_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._responses[req.request_id] = fut
        await self._ws.send(back.SerializeToString())
        resp = await asyncio.wait_for(fut, self.timeout_s)
        if resp.error_msg:
            raise WireError(f"download {button.label!r}: {resp.error_msg}")
        return str(resp.deferred_file.url)

    async def fetch(self, url: str) -> bytes:
        """The click's second half: the browser's GET of the file the server made."""
        import httpx  # noqa: PLC0415

        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s) as client:
            got = await client.get(url, cookies=self.cookies)
        if got.status_code != 200:
            raise WireError(f"download {url}: HTTP {got.status_code}")
        return got.content
