"""Tickets against a real HTTP server on 127.0.0.1 that speaks minimal Jira, ServiceNow and webhook APIs.

The server records every request and dedupes nothing, so a duplicate create would show as a second ticket. It can
be stopped and restarted on the same port, and told to answer the next creates with a status (503, 429 + Retry-After,
400) or to create the ticket and then drop the connection before answering (a lost reply).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from engine.errors import ConfigError, InputError, NotFound
from engine.outputs.tickets import (
    RetryPolicy,
    Ticket,
    TicketTarget,
    add_target,
    disable_target,
    get_ticket,
    idempotency_key,
    list_targets,
    list_tickets,
    open_ticket,
    parse_retry_after,
    remediation_task,
    retry_pending,
    targets_for,
    update_target,
    webhook_body,
)
from engine.outputs.tickets.formats import TicketRequest
from engine.store import audit

TOKEN = "s3cret-test-token"
TOKEN_ENV = "APPORTION_TEST_TICKET_TOKEN"
FAST = RetryPolicy(attempts=3, total_seconds=5.0, backoff_initial=0.01, backoff_max=0.05, jitter=0.01,
                   retry_after_max=2.0, connect_timeout=1.0, read_timeout=3.0)
CREATE_PATHS = {"jira": "/rest/api/2/issue", "servicenow": "/api/now/table/incident", "webhook": "/hooks/tickets"}
KINDS = ("jira", "servicenow", "webhook")


@dataclass
class Fault:
    """What the server does with the next create request instead of answering 201."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    drop_after_create: bool = False


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class Remote:
    """The remote ticket systems. State survives a restart (it is the far side's database)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.issues: list[dict[str, Any]] = []       # jira
        self.incidents: list[dict[str, Any]] = []    # servicenow
        self.hooks: list[dict[str, Any]] = []        # webhook deliveries
        self.faults: deque[Fault] = deque()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        remote = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                remote.handle(self, "GET")

            def do_POST(self) -> None:
                remote.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            assert self.thread is not None
            self.thread.join(timeout=5)
            self.server = None

    def creates(self, kind: str) -> list[Received]:
        return [r for r in self.requests if r.method == "POST" and r.path == CREATE_PATHS[kind]]

    def tickets(self, kind: str) -> list[dict[str, Any]]:
        return {"jira": self.issues, "servicenow": self.incidents, "webhook": self.hooks}[kind]

    # -- the APIs ---------------------------------------------------------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        with self.lock:
            self.requests.append(Received(method, url.path, parse_qs(url.query),
                                          {k.lower(): v for k, v in h.headers.items()}, body))
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.reply(h, 401, {"errorMessages": ["You are not authenticated."]})
        if method == "GET":
            return self.lookup(h, url.path, parse_qs(url.query))
        kind = next((k for k, p in CREATE_PATHS.items() if p == url.path), None)
        if kind is None:
            return self.reply(h, 404, {"error": {"message": "no such path"}})
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        if fault is not None and fault.status is not None:
            return self.reply(h, fault.status, fault.body, fault.headers)
        status, reply = self.create(kind, body, h.headers.get("Idempotency-Key"))
        if fault is not None and fault.drop_after_create:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)  # created, but the client never hears about it
            return None
        return self.reply(h, status, reply)

    def create(self, kind: str, body: Any, key: str | None) -> tuple[int, Any]:
        with self.lock:
            if kind == "jira":
                f = body["fields"]
                if f["project"]["key"] != "FIN":
                    return 400, {"errorMessages": [], "errors": {"project": "valid project is required"}}
                n = 10000 + len(self.issues)
                issue = {"id": str(n), "key": f"FIN-{len(self.issues) + 1}", "fields": f,
                         "self": f"{self.base}/rest/api/2/issue/{n}"}
                self.issues.append(issue)
                return 201, {k: issue[k] for k in ("id", "key", "self")}
            if kind == "servicenow":
                number = f"INC{10001 + len(self.incidents):07d}"
                incident = {**body, "number": number, "sys_id": f"{len(self.incidents) + 1:032x}"}
                self.incidents.append(incident)
                return 201, {"result": incident}
            n = len(self.hooks) + 1
            self.hooks.append({"id": f"hook-{n}", "key": key, "body": body})
            return 201, {"id": f"hook-{n}", "url": f"{self.base}/hooks/view/{n}"}

    def lookup(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> None:
        with self.lock:
            if path == "/rest/api/2/search":
                m = re.search(r'labels = "([^"]+)"', query["jql"][0])
                assert m, query
                found = [{k: i[k] for k in ("id", "key", "self")} for i in self.issues
                         if m.group(1) in i["fields"]["labels"]]
                return self.reply(h, 200, {"startAt": 0, "total": len(found), "issues": found})
            if path == "/api/now/table/incident":
                m = re.match(r"correlation_id=([^^]+)", query["sysparm_query"][0])
                assert m, query
                rows = [{"number": i["number"], "sys_id": i["sys_id"]} for i in self.incidents
                        if i.get("correlation_id") == m.group(1)]
                return self.reply(h, 200, {"result": rows})
        return self.reply(h, 404, "not found")

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


@pytest.fixture
def remote() -> Any:
    r = Remote()
    r.start()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def make_target(con: duckdb.DuckDBPyConnection, remote: Remote, kind: str, **kw: Any) -> TicketTarget:
    base = f"{remote.base}/hooks/tickets" if kind == "webhook" else remote.base
    extra: dict[str, Any] = {"jira": {"project_key": "FIN"}, "servicenow": {"assignment_group": "IT Finance"},
                             "webhook": {}}[kind]
    t = TicketTarget(**{"name": f"{kind}-main", "kind": kind, "base_url": base, "token_env": TOKEN_ENV,
                        **extra, **kw})
    return add_target(con, t, "admin")


def open_for(con: duckdb.DuckDBPyConnection, target: TicketTarget, subject_id: str,
             policy: RetryPolicy = FAST, **kw: Any) -> Ticket:
    return open_ticket(con, target.name, "anomaly", subject_id, f"Spend spike on {subject_id}",
                       f"Cost of {subject_id} doubled month on month.", f"http://apportion.local/anomalies/{subject_id}",
                       "finops", policy=policy, **kw)


def actions(con: duckdb.DuckDBPyConnection, entity_id: str | None = None) -> list[str]:
    sql = "SELECT action FROM audit_event" + (" WHERE entity_id = ?" if entity_id else "") + " ORDER BY seq"
    return [r[0] for r in con.execute(sql, [entity_id] if entity_id else []).fetchall()]


def server_reference(remote: Remote, kind: str, item: dict[str, Any]) -> str:
    return str(item["key"] if kind == "jira" else item["number"] if kind == "servicenow" else item["id"])


# -- create on each kind ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_create_on_each_kind_stores_the_servers_reference_and_link(con: duckdb.DuckDBPyConnection, remote: Remote,
                                                                   kind: str) -> None:
    target = make_target(con, remote, kind)
    t = open_for(con, target, "A-1")
    assert t.status == "open" and t.attempts == 1 and t.last_error is None and t.opened_at is not None
    (sent,) = remote.creates(kind)
    (made,) = remote.tickets(kind)
    key = idempotency_key(target.name, "anomaly", "A-1")
    assert t.ticket_id == key and sent.headers["idempotency-key"] == key
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert t.reference == server_reference(remote, kind, made)
    if kind == "jira":
        f = sent.body["fields"]
        assert f["project"] == {"key": "FIN"} and f["issuetype"] == {"name": "Task"}
        assert f["summary"] == "Spend spike on A-1" and key in f["labels"]
        assert "http://apportion.local/anomalies/A-1" in f["description"]
        assert t.url == f"{remote.base}/browse/{made['key']}" and t.api_url == made["self"]
        assert t.remote_id == made["id"]
    elif kind == "servicenow":
        assert sent.body["short_description"] == "Spend spike on A-1"
        assert sent.body["correlation_id"] == key and sent.body["assignment_group"] == "IT Finance"
        assert t.remote_id == made["sys_id"] and t.url == f"{remote.base}/incident.do?sys_id={made['sys_id']}"
    else:
        req = TicketRequest(key, target.name, "anomaly", "A-1", "Spend spike on A-1",
                            "Cost of A-1 doubled month on month.", "http://apportion.local/anomalies/A-1")
        assert sent.body == webhook_body(target, req) and sent.body["idempotency_key"] == key
        assert t.url == f"{remote.base}/hooks/view/1"
    assert get_ticket(con, target.name, "anomaly", "A-1") == t
    assert actions(con) == ["ticket_target.add", "ticket.request", "ticket.open"]
    assert audit.verify(con).ok


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_subject_twice_sends_one_request_and_keeps_one_ticket(con: duckdb.DuckDBPyConnection,
                                                                     remote: Remote, kind: str) -> None:
    target = make_target(con, remote, kind)
    first = open_for(con, target, "A-1")
    second = open_for(con, target, "A-1")
    assert second == first
    assert len(remote.requests) == 1 and len(remote.tickets(kind)) == 1
    assert len(list_tickets(con)) == 1
    open_for(con, target, "A-2")  # another subject is another ticket
    assert len(remote.tickets(kind)) == 2 and len(list_tickets(con, status="open")) == 2


# -- the acceptance test ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_server_stops_midway_and_retry_pending_ends_with_one_ticket_per_subject(
        con: duckdb.DuckDBPyConnection, remote: Remote, kind: str) -> None:
    target = make_target(con, remote, kind)
    subjects = [f"A-{i}" for i in range(1, 7)]
    results: dict[str, Ticket] = {}
    for i, s in enumerate(subjects):
        if i == 3:
            remote.stop()  # mid-way: the next ones meet connection refused on every attempt
        results[s] = open_for(con, target, s)
    assert [results[s].status for s in subjects] == ["open"] * 3 + ["pending"] * 3
    for s in subjects[3:]:
        assert results[s].attempts == FAST.attempts and "ConnectError" in (results[s].last_error or "")
    assert len(remote.tickets(kind)) == 3

    remote.start()  # same port
    assert remote.base == target.base_url.removesuffix("/hooks/tickets")
    again = retry_pending(con, "scheduler", policy=FAST)
    assert sorted(t.subject_id for t in again) == subjects[3:] and all(t.is_open for t in again)
    assert retry_pending(con, "scheduler", policy=FAST) == []  # nothing left

    made = remote.tickets(kind)
    assert len(made) == len(subjects) and len(remote.creates(kind)) == len(subjects)
    stored = {t.subject_id: t for t in list_tickets(con)}
    assert set(stored) == set(subjects) and all(t.is_open for t in stored.values())
    on_server = sorted(server_reference(remote, kind, m) for m in made)
    assert sorted(str(t.reference) for t in stored.values()) == on_server  # one ticket per subject, both sides
    keys = [c.headers["idempotency-key"] for c in remote.creates(kind)]
    assert sorted(keys) == sorted(t.ticket_id for t in stored.values())
    assert audit.verify(con).ok


# -- lost replies ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["jira", "servicenow"])
def test_a_lost_reply_is_found_by_the_key_within_the_round(con: duckdb.DuckDBPyConnection, remote: Remote,
                                                           kind: str) -> None:
    target = make_target(con, remote, kind)
    remote.faults.append(Fault(drop_after_create=True))
    t = open_for(con, target, "A-1")
    (made,) = remote.tickets(kind)
    assert t.is_open and t.reference == server_reference(remote, kind, made) and t.attempts == 2
    assert len(remote.creates(kind)) == 1  # the second attempt looked and found it
    assert [r.method for r in remote.requests] == ["POST", "GET"]
    detail = con.execute("SELECT detail->>'found_by' FROM audit_event WHERE action = 'ticket.open'").fetchall()
    assert detail == [("lookup",)]


@pytest.mark.parametrize("kind", ["jira", "servicenow"])
def test_a_lost_reply_left_pending_is_found_by_retry_pending(con: duckdb.DuckDBPyConnection, remote: Remote,
                                                             kind: str) -> None:
    target = make_target(con, remote, kind)
    remote.faults.append(Fault(drop_after_create=True))
    one_shot = RetryPolicy(attempts=1, backoff_initial=0.01, jitter=0.01, connect_timeout=1, read_timeout=3)
    t = open_for(con, target, "A-1", policy=one_shot)
    assert t.status == "pending" and "RemoteProtocolError" in (t.last_error or "")
    assert len(remote.tickets(kind)) == 1  # created remotely, unknown locally: as after a crash
    (done,) = retry_pending(con, "scheduler", policy=FAST)
    assert done.is_open and done.reference == server_reference(remote, kind, remote.tickets(kind)[0])
    assert len(remote.tickets(kind)) == 1 and len(remote.creates(kind)) == 1


def test_a_lost_webhook_reply_is_resent_with_the_same_key_for_the_receiver_to_dedupe(
        con: duckdb.DuckDBPyConnection, remote: Remote) -> None:
    target = make_target(con, remote, "webhook")
    remote.faults.append(Fault(drop_after_create=True))
    t = open_for(con, target, "A-1")
    assert t.is_open and t.reference == "hook-2"
    first, second = remote.hooks  # no lookup exists: the receiver sees both, with one key
    assert first["key"] == second["key"] == t.ticket_id
    assert first["body"] == second["body"] and first["body"]["idempotency_key"] == t.ticket_id


# -- retry policy ----------------------------------------------------------------------------------------------------

def test_503_then_201_is_retried(con: duckdb.DuckDBPyConnection, remote: Remote) -> None:
    target = make_target(con, remote, "servicenow")
    remote.faults.append(Fault(status=503, body='{"error": {"message": "maintenance"}}'))
    t = open_for(con, target, "A-1")
    assert t.is_open and t.attempts == 2
    assert len(remote.creates("servicenow")) == 2 and len(remote.incidents) == 1


def test_400_fails_at_once_with_the_servers_message_and_is_not_retried(con: duckdb.DuckDBPyConnection,
                                                                      remote: Remote) -> None:
    target = make_target(con, remote, "jira", project_key="NOPE")
    with pytest.raises(InputError, match=r"'jira-main'.*HTTP 400.*valid project is required"):
        open_for(con, target, "A-1")
    assert len(remote.requests) == 1
    t = get_ticket(con, target.name, "anomaly", "A-1")
    assert t is not None and t.status == "failed" and "valid project is required" in (t.last_error or "")
    assert actions(con, t.ticket_id) == ["ticket.request", "ticket.rejected"]
    assert retry_pending(con, "scheduler", policy=FAST) == [] and len(remote.requests) == 1  # waits for a person

    update_target(con, TicketTarget(target.name, "jira", target.base_url, TOKEN_ENV, project_key="FIN"), "admin")
    fixed = open_for(con, target, "A-1")
    assert fixed.is_open and len(remote.issues) == 1 and fixed.ticket_id == t.ticket_id


def test_a_refused_token_is_a_config_error_naming_the_variable(con: duckdb.DuckDBPyConnection, remote: Remote,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target = make_target(con, remote, "servicenow")
    monkeypatch.setenv(TOKEN_ENV, "wrong")
    with pytest.raises(ConfigError, match=rf"refused the token in {TOKEN_ENV}.*HTTP 401"):
        open_for(con, target, "A-1")
    assert len(remote.requests) == 1


def test_retry_after_is_honoured(con: duckdb.DuckDBPyConnection, remote: Remote) -> None:
    target = make_target(con, remote, "jira")
    remote.faults.append(Fault(status=429, headers={"Retry-After": "1"}, body='{"errorMessages": ["slow down"]}'))
    started = time.monotonic()
    t = open_for(con, target, "A-1")
    elapsed = time.monotonic() - started
    assert t.is_open and len(remote.issues) == 1
    assert 0.9 <= elapsed < 4  # the backoff alone would be ~0.02 s


def test_a_retry_after_longer_than_allowed_leaves_the_ticket_pending(con: duckdb.DuckDBPyConnection,
                                                                     remote: Remote) -> None:
    target = make_target(con, remote, "webhook")
    remote.faults.append(Fault(status=429, headers={"Retry-After": "120"}))
    started = time.monotonic()
    t = open_for(con, target, "A-1")
    assert time.monotonic() - started < 2
    assert t.status == "pending" and "retry after 120 s" in (t.last_error or "") and len(remote.requests) == 1
    (done,) = retry_pending(con, "scheduler", policy=FAST)
    assert done.is_open and len(remote.hooks) == 1


def test_retry_after_header_forms() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("-3") is None


def test_timeouts_are_retried_and_bounded(con: duckdb.DuckDBPyConnection) -> None:
    """A server that accepts the connection and never answers: each attempt ends at the read timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        port = listener.getsockname()[1]
        add_target(con, TicketTarget("hook", "webhook", f"http://127.0.0.1:{port}/h", TOKEN_ENV), "admin")
        policy = RetryPolicy(attempts=2, total_seconds=3, backoff_initial=0.01, jitter=0.01, connect_timeout=0.5,
                             read_timeout=0.3)
        started = time.monotonic()
        t = open_ticket(con, "hook", "anomaly", "A-1", "t", "b", None, "finops", policy=policy)
        assert time.monotonic() - started < 2.5
        assert t.status == "pending" and t.attempts == 2 and "ReadTimeout" in (t.last_error or "")
    finally:
        listener.close()


# -- tokens, targets, scope ------------------------------------------------------------------------------------------

def test_a_missing_token_variable_is_a_config_error_naming_it(con: duckdb.DuckDBPyConnection, remote: Remote,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = make_target(con, remote, "jira")
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        open_for(con, target, "A-1")
    assert remote.requests == [] and list_tickets(con) == []  # nothing recorded, nothing sent

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    remote.stop()
    pending = open_for(con, target, "A-2")
    monkeypatch.delenv(TOKEN_ENV)
    (noted,) = retry_pending(con, "scheduler", policy=FAST)  # recorded on the ticket, not raised
    assert noted.status == "pending" and TOKEN_ENV in (noted.last_error or "") and noted.attempts == pending.attempts


def test_the_token_is_never_stored(con: duckdb.DuckDBPyConnection, remote: Remote) -> None:
    target = make_target(con, remote, "jira")
    open_for(con, target, "A-1")
    con.execute("CHECKPOINT")
    for table in ("ticket_target", "ticket", "audit_event"):
        text = str(con.execute(f"SELECT * FROM {table}").fetchall())
        assert TOKEN not in text and (table != "ticket_target" or TOKEN_ENV in text)


def test_target_configuration_is_checked(con: duckdb.DuckDBPyConnection) -> None:
    def bad(**kw: Any) -> str:
        base = {"name": "t", "kind": "jira", "base_url": "https://jira.example.com", "token_env": "JIRA_TOKEN",
                "project_key": "FIN"}
        with pytest.raises(InputError) as e:
            add_target(con, TicketTarget(**{**base, **kw}), "admin")
        return str(e.value)

    assert "https" in bad(base_url="http://jira.example.com")
    assert "project key" in bad(project_key=None)
    assert "environment variable name" in bad(token_env="s3cret token value")
    assert "user name or password" in bad(base_url="https://bob:pw@jira.example.com")
    assert "pw" not in bad(base_url="https://bob:pw@jira.example.com")
    assert "kind must be one of" in bad(kind="trello")
    assert "assignment group" in bad(assignment_group="G")
    with pytest.raises(NotFound, match="CC99"):
        add_target(con, TicketTarget("t", "webhook", "https://hooks.example.com/x", "T", cost_center_id="CC99"),
                   "admin")
    add_target(con, TicketTarget("t", "webhook", "https://hooks.example.com/x", "T"), "admin")
    with pytest.raises(InputError, match="already exists"):
        add_target(con, TicketTarget("t", "webhook", "https://hooks.example.com/y", "T"), "admin")
    with pytest.raises(NotFound, match="known: t"):
        open_ticket(con, "nope", "anomaly", "A-1", "t", "b", None, "finops")
    assert actions(con) == ["ticket_target.add"]


def test_scope_disable_and_update_are_audited(con: duckdb.DuckDBPyConnection, remote: Remote) -> None:
    con.execute("INSERT INTO org_unit VALUES ('BU1', 'Retail', 'business_unit', NULL, NULL),"
                " ('CC01', 'Stores', 'cost_center', 'BU1', NULL), ('CC02', 'Online', 'cost_center', 'BU1', NULL)")
    everyone = make_target(con, remote, "webhook")
    stores = make_target(con, remote, "servicenow", name="snow-stores", cost_center_id="CC01")
    assert [t.name for t in targets_for(con, "CC01")] == ["snow-stores", "webhook-main"]
    assert [t.name for t in targets_for(con, "CC02")] == ["webhook-main"]
    with pytest.raises(InputError, match="CC01.*CC02"):
        open_for(con, stores, "A-1", cost_center_id="CC02")
    assert open_for(con, stores, "A-1", cost_center_id="CC01").is_open
    assert open_for(con, everyone, "A-1", cost_center_id="CC02").is_open

    update_target(con, TicketTarget("snow-stores", "servicenow", remote.base, TOKEN_ENV, assignment_group="Stores IT",
                                    cost_center_id="CC01"), "admin")
    update_target(con, TicketTarget("snow-stores", "servicenow", remote.base, TOKEN_ENV, assignment_group="Stores IT",
                                    cost_center_id="CC01"), "admin")  # no change, no event
    remote.stop()
    assert open_for(con, stores, "A-2", cost_center_id="CC01").status == "pending"
    disable_target(con, "snow-stores", "admin")
    disable_target(con, "snow-stores", "admin")  # already disabled, no event
    with pytest.raises(ConfigError, match="disabled"):
        open_for(con, stores, "A-3", cost_center_id="CC01")
    remote.start()
    assert retry_pending(con, "scheduler", policy=FAST) == []  # the disabled target's ticket waits
    assert [t.name for t in list_targets(con, include_disabled=False)] == ["webhook-main"]

    a2 = idempotency_key("snow-stores", "anomaly", "A-2")
    assert actions(con) == [
        "ticket_target.add", "ticket_target.add",
        "ticket.request", "ticket.open", "ticket.request", "ticket.open",
        "ticket_target.update",
        "ticket.request", "ticket.send_failed",
        "ticket_target.disable",
    ]
    assert actions(con, a2) == ["ticket.request", "ticket.send_failed"]
    change = con.execute("SELECT detail->'changed'->'assignment_group' FROM audit_event"
                         " WHERE action = 'ticket_target.update'").fetchall()[0][0]
    assert json.loads(change) == ["IT Finance", "Stores IT"]
    update_target(con, TicketTarget("snow-stores", "servicenow", remote.base, TOKEN_ENV, assignment_group="Stores IT",
                                    cost_center_id="CC01", enabled=True), "admin")
    (done,) = retry_pending(con, "scheduler", policy=FAST)
    assert done.ticket_id == a2 and done.is_open
    assert actions(con)[-3:] == ["ticket_target.update", "ticket.send", "ticket.open"]
    assert audit.verify(con).ok


def test_a_ticket_held_by_another_sender_is_not_sent_twice(con: duckdb.DuckDBPyConnection, remote: Remote) -> None:
    target = make_target(con, remote, "jira")
    remote.stop()
    open_for(con, target, "A-1")
    remote.start()
    key = idempotency_key(target.name, "anomaly", "A-1")
    # as if another session had just claimed it (or a process died mid-send, its claim not yet expired)
    con.execute("UPDATE ticket SET claimed_until = ? WHERE ticket_id = ?",
                [datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=5), key])
    assert retry_pending(con, "scheduler", policy=FAST) == []
    assert open_for(con, target, "A-1").status == "pending" and remote.requests == []
    con.execute("UPDATE ticket SET claimed_until = ? WHERE ticket_id = ?",
                [datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1), key])  # the claim expired
    (done,) = retry_pending(con, "scheduler", policy=FAST)
    assert done.is_open and len(remote.issues) == 1


# -- remediation text ------------------------------------------------------------------------------------------------

def test_remediation_tasks_for_misallocated_assets(con: duckdb.DuckDBPyConnection, remote: Remote) -> None:
    laptop = {"asset_id": "jamf:C02ZK1", "asset_tag": "LT-0042", "serial": "C02ZK1", "class": "laptop",
              "model": "MacBook Pro", "owner": None, "cost_center_id": "CC01", "lifecycle_status": "in_use"}
    task = remediation_task(laptop, "no_owner")
    assert task.subject_kind == "asset.no_owner" and task.subject_id == "jamf:C02ZK1"
    assert task.title == "Assign an owner to laptop LT-0042" and task.cost_center_id == "CC01"
    assert "- Serial: C02ZK1" in task.body and "Owner" not in task.body

    left = remediation_task({**laptop, "owner": "jsmith"}, "retired_owner", detail="jsmith left on 2026-01-31.")
    assert left.title == "Reassign laptop LT-0042: owner jsmith has left" and "2026-01-31" in left.body

    vm = {"resource_id": "i-0abc", "resource_type": "instance", "provider": "AWS", "sub_account_id": "1111",
          "service_name": "EC2", "effective_cost": "412.50"}
    tag = remediation_task(vm, "untagged")
    assert tag.subject_kind == "asset.untagged" and tag.subject_id == "i-0abc" and tag.cost_center_id is None
    assert tag.title == "Tag instance i-0abc with its cost centre" and "- Effective cost: 412.50" in tag.body
    with pytest.raises(InputError):
        remediation_task(vm, "lost")
    with pytest.raises(InputError):
        remediation_task({"class": "laptop"}, "no_owner")

    target = make_target(con, remote, "jira")
    t = open_ticket(con, target.name, task.subject_kind, task.subject_id, task.title, task.body, None, "finops",
                    policy=FAST)
    assert t.is_open and remote.issues[0]["fields"]["summary"] == task.title
