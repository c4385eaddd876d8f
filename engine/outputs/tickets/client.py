"""Sending one ticket: httpx for the HTTP, tenacity for the retries. Knows nothing of the store.

One `deliver` call is one *send round*: up to `RetryPolicy.attempts` attempts within `RetryPolicy.total_seconds`.
An attempt is "look the ticket up by its idempotency key if an earlier attempt may have created it, else create it".
Connection errors, timeouts, a dropped connection, 408, 429 and 5xx are retried with exponential backoff and jitter,
or after the server's Retry-After when it sends one (a Retry-After longer than `retry_after_max` ends the round: the
caller keeps the ticket pending for a later round instead of blocking). Any other non-2xx fails at once.

The result is a value, never an exception: `Delivered`, `GaveUp` (transient trouble outlasted the round) or `Refused`
(the server said no; `error` is the ConfigError/InputError to show, naming the target and the server's words).
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

from engine.errors import ApportionError, ConfigError, InputError
from engine.outputs.tickets.formats import (
    Created,
    HttpCall,
    TicketRequest,
    create_call,
    error_message,
    lookup_call,
    parse_created,
    parse_found,
)
from engine.outputs.tickets.targets import TicketTarget

USER_AGENT = "apportion-tickets/1"
RETRY_STATUSES = frozenset({408, 429})  # and every 5xx
Stage = Literal["create", "lookup"]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of one send round. The defaults suit a page or a nightly job; tests pass tiny ones."""

    attempts: int = 5               # attempts per round, the first included
    total_seconds: float = 60.0     # no new attempt starts after this (plus at most one request's timeouts)
    backoff_initial: float = 0.5    # first wait; doubles per attempt
    backoff_max: float = 10.0       # longest backoff wait
    jitter: float = 0.5             # up to this much random time added to each backoff wait
    retry_after_max: float = 30.0   # longest Retry-After honoured within a round
    connect_timeout: float = 5.0
    read_timeout: float = 20.0      # also the write and pool timeout

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InputError(f"retry policy: attempts must be at least 1 (got {self.attempts})")
        for name in ("total_seconds", "backoff_initial", "backoff_max", "jitter", "retry_after_max",
                     "connect_timeout", "read_timeout"):
            if getattr(self, name) < 0:
                raise InputError(f"retry policy: {name} must not be negative (got {getattr(self, name)})")
        if self.connect_timeout == 0 or self.read_timeout == 0:
            raise InputError("retry policy: timeouts must be positive")

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)

    def lease_seconds(self) -> float:
        """How long a sender may hold a ticket: the round's budget, the last request's timeouts, a margin."""
        return self.total_seconds + 3 * (self.connect_timeout + self.read_timeout) + 60.0


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class Delivered:
    created: Created
    found_by: Stage             # "lookup": an earlier attempt had created it
    attempts: int


@dataclass(frozen=True)
class GaveUp:
    error: str
    attempts: int


@dataclass(frozen=True)
class Refused:
    error: ApportionError
    during: Stage               # refused during "create": nothing was created; during "lookup": unknown
    attempts: int


Outcome = Delivered | GaveUp | Refused


class _Transient(Exception):
    """Worth another attempt (internal)."""

    def __init__(self, message: str, *, retry_after: float | None = None, unsent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.unsent = unsent        # the request certainly never reached the server (connect failed)


class _Refusal(Exception):
    """Not worth another attempt (internal); carries the user-facing error."""

    def __init__(self, error: ApportionError, during: Stage) -> None:
        super().__init__(str(error))
        self.error = error
        self.during = during


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date; None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if seconds >= 0 else None


def _last_error(rs: RetryCallState) -> BaseException | None:
    return rs.outcome.exception() if rs.outcome is not None and rs.outcome.failed else None


class _wait(wait_base):
    """The server's Retry-After when it gave one, else exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = wait_exponential_jitter(multiplier=policy.backoff_initial, max=policy.backoff_max,
                                               jitter=policy.jitter)

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = _last_error(retry_state)
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after
        return float(self.backoff(retry_state))


class _stop(stop_base):
    """Attempts used up, the next wait would pass the round's budget, or Retry-After asks for too long."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = _last_error(retry_state)
        p = self.policy
        if isinstance(exc, _Transient) and exc.retry_after is not None and exc.retry_after > p.retry_after_max:
            exc.message += (f"; the server asked to retry after {exc.retry_after:g} s, longer than the "
                            f"{p.retry_after_max:g} s one send may wait, so it is left for a later retry")
            return True
        elapsed = retry_state.seconds_since_start or 0.0
        return retry_state.attempt_number >= p.attempts or elapsed + retry_state.upcoming_sleep > p.total_seconds


def _refusal(target: TicketTarget, call: HttpCall, resp: httpx.Response, during: Stage) -> ApportionError:
    status = resp.status_code
    msg = error_message(resp.text)
    doing = "looking up an earlier ticket by its idempotency key" if during == "lookup" else "creating the ticket"
    where = f"ticket target {target.name!r} ({call.method} {call.url})"
    if status in (401, 403):
        return ConfigError(f"{where} refused the token in {target.token_env} while {doing}: HTTP {status} — {msg}")
    if status in (404, 405, 410):
        hint = " and the project key" if target.kind == "jira" else ""
        return ConfigError(f"{where} has no such API ({doing}): HTTP {status} — {msg}; check the base URL{hint}")
    if 300 <= status < 400:
        return ConfigError(f"{where} redirected to {resp.headers.get('location', '(no location)')} while {doing}; "
                           "set the base URL to the address it redirects to")
    return InputError(f"{where} rejected {doing}: HTTP {status} — {msg}")


def _call(client: httpx.Client, target: TicketTarget, call: HttpCall, during: Stage) -> Any:
    """One request; the parsed JSON reply (None if empty or not JSON) of a 2xx, else _Transient or _Refusal."""
    where = f"ticket target {target.name!r}"
    try:
        resp = client.request(call.method, call.url, params=call.params, json=call.json)
    except httpx.UnsupportedProtocol as exc:
        raise _Refusal(ConfigError(f"{where}: {call.url} cannot be reached ({exc})"), during) from exc
    except httpx.TimeoutException as exc:
        raise _Transient(f"{where}: {call.method} {call.url} timed out ({type(exc).__name__})",
                         unsent=isinstance(exc, httpx.ConnectTimeout)) from exc
    except httpx.TransportError as exc:
        raise _Transient(f"{where}: {call.method} {call.url} failed ({type(exc).__name__}: {exc})",
                         unsent=isinstance(exc, httpx.ConnectError)) from exc
    status = resp.status_code
    if 200 <= status < 300:
        try:
            return json.loads(resp.content) if resp.content.strip() else None
        except ValueError:
            return None
    if status in RETRY_STATUSES or status >= 500:
        raise _Transient(f"{where}: {call.method} {call.url} answered HTTP {status} — {error_message(resp.text)}",
                         retry_after=parse_retry_after(resp.headers.get("retry-after")))
    raise _Refusal(_refusal(target, call, resp, during), during)


def deliver(target: TicketTarget, token: str, req: TicketRequest, *, may_exist: bool,
            policy: RetryPolicy = DEFAULT_POLICY) -> Outcome:
    """One send round. `may_exist`: an earlier round may have created the ticket, so look before creating."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": req.idempotency_key,
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    attempts = 0
    look_first = may_exist

    def attempt(client: httpx.Client) -> Delivered:
        nonlocal attempts, look_first
        attempts += 1
        lookup = lookup_call(target, req) if look_first else None
        if lookup is not None:
            found = parse_found(target, _call(client, target, lookup, "lookup"))
            if found is None:
                raise _Transient(f"ticket target {target.name!r}: the lookup reply listed no tickets in a known shape")
            if found:
                return Delivered(found[0], "lookup", attempts)
        try:
            reply = _call(client, target, create_call(target, req), "create")
        except _Transient as exc:
            if not exc.unsent:        # it may have been created: the next attempt looks first
                look_first = True
            raise
        created = parse_created(target, reply)
        if created is None:
            look_first = True
            raise _Transient(f"ticket target {target.name!r}: the create reply named no ticket")
        return Delivered(created, "create", attempts)

    retrying = Retrying(
        retry=retry_if_exception_type(_Transient),
        wait=_wait(policy),
        stop=_stop(policy),
        reraise=True,
        sleep=time.sleep,
    )
    started = time.monotonic()
    try:
        with httpx.Client(timeout=policy.timeout(), headers=headers, follow_redirects=False) as client:
            return retrying(attempt, client)
    except _Transient as exc:
        return GaveUp(f"{exc.message} (gave up after {attempts} attempt{'s' if attempts != 1 else ''} in "
                      f"{time.monotonic() - started:.1f} s)", attempts)
    except _Refusal as exc:
        return Refused(exc.error, exc.during, attempts)
