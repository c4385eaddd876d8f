"""GET with retries, a rate limit and a deadline: httpx for HTTP, tenacity for backoff (as the tickets client).

Connection errors, timeouts, 408, 429 and 5xx are retried with exponential backoff and jitter, or after the server's
Retry-After (engine/outputs/tickets/client.parse_retry_after). Other non-2xx answers fail at once. No attempt starts
after the run's deadline, and no wait would carry past it. `min_interval` spaces requests (the API's rate limit).
Every failure is a `PollFailed` naming the URL and the server's answer; nothing here touches the store.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

from engine.errors import InputError
from engine.outputs.tickets.client import RETRY_STATUSES, parse_retry_after

USER_AGENT = "apportion-sources/1"


class PollFailed(InputError):
    """A poll could not complete (the server's answer, or the run's time bound); nothing was written."""


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    """One run's bounds. Defaults suit a scheduled poll; tests pass tiny waits."""

    max_seconds: float = 300.0         # the whole run (every page, every retry)
    attempts: int = 5                  # per request, the first included
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    jitter: float = 0.5
    retry_after_max: float = 60.0      # a longer Retry-After ends the run (it is tried again at the next one)
    min_interval: float = 0.0          # seconds between two requests (client-side rate limit)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass
class Client:
    """One run's HTTP session: counts calls and retries for the page's cost figures."""

    base_url: str
    limits: Limits
    token: str | None = None
    auth_scheme: str = "Bearer"
    calls: int = 0
    retries: int = 0
    _deadline: float = field(default=0.0, repr=False)
    _last_call: float = field(default=0.0, repr=False)
    _http: httpx.Client | None = field(default=None, repr=False)

    def __enter__(self) -> Client:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"{self.auth_scheme} {self.token}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, follow_redirects=False,
                                  timeout=httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout))
        self._deadline = time.monotonic() + self.limits.max_seconds
        return self

    def __exit__(self, *_: object) -> None:
        if self._http is not None:
            self._http.close()

    def remaining(self) -> float:
        return self._deadline - time.monotonic()

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The parsed JSON of a 2xx answer to GET `path`, after retries; PollFailed otherwise."""
        url = f"{self.base_url}{path}"
        lim = self.limits
        client = self

        class _stop(stop_base):
            def __call__(self, rs: RetryCallState) -> bool:
                exc = rs.outcome.exception() if rs.outcome is not None and rs.outcome.failed else None
                too_long = isinstance(exc, _Transient) and (exc.retry_after or 0) > lim.retry_after_max
                if isinstance(exc, _Transient) and too_long:
                    exc.message += (f"; the server asked to wait {exc.retry_after:g} s, longer than the "
                                    f"{lim.retry_after_max:g} s a run waits")
                    return True
                return rs.attempt_number >= lim.attempts or rs.upcoming_sleep >= client.remaining()

        backoff = wait_exponential_jitter(initial=lim.backoff_initial, max=lim.backoff_max, jitter=lim.jitter)

        class _wait(wait_base):
            def __call__(self, rs: RetryCallState) -> float:
                exc = rs.outcome.exception() if rs.outcome is not None and rs.outcome.failed else None
                if isinstance(exc, _Transient) and exc.retry_after is not None:
                    return exc.retry_after
                return float(backoff(rs))

        def before_sleep(_: RetryCallState) -> None:
            client.retries += 1

        retrying = Retrying(stop=_stop(), wait=_wait(), retry=retry_if_exception_type(_Transient),
                            before_sleep=before_sleep, reraise=False)
        try:
            return retrying(self._once, path, params, url)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            why = last.message if isinstance(last, _Transient) else str(last)
            raise PollFailed(f"{why} (gave up after {exc.last_attempt.attempt_number} attempt(s))") from None

    def _once(self, path: str, params: dict[str, Any] | None, url: str) -> Any:
        if self.remaining() <= 0:
            raise PollFailed(f"the run took longer than its bound of {self.limits.max_seconds:g} s before "
                             f"GET {url}; nothing was loaded")
        wait = self._last_call + self.limits.min_interval - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, max(self.remaining(), 0.0)))
        assert self._http is not None, "use Client as a context manager"
        self.calls += 1
        self._last_call = time.monotonic()
        try:
            resp = self._http.get(path, params=params)
        except httpx.UnsupportedProtocol as exc:
            raise PollFailed(f"{url} cannot be reached ({exc})") from exc
        except httpx.TransportError as exc:
            raise _Transient(f"GET {url} failed ({type(exc).__name__}: {exc})") from exc
        status = resp.status_code
        if 200 <= status < 300:
            try:
                return json.loads(resp.content)
            except ValueError:
                raise PollFailed(f"GET {url} answered HTTP {status} with a body that is not JSON") from None
        text = resp.text.strip().replace("\n", " ")[:300]
        if status in RETRY_STATUSES or status >= 500:
            raise _Transient(f"GET {url} answered HTTP {status} — {text}",
                             retry_after=parse_retry_after(resp.headers.get("retry-after")))
        if status in (401, 403):
            raise PollFailed(f"GET {url} refused the credential: HTTP {status} — {text}")
        raise PollFailed(f"GET {url} answered HTTP {status} — {text}")
