"""A real HTTP server on localhost that serves the real API responses in ../shared/samples/real/, paginated as each
API paginates, with faults to inject (429, 500, 401) and a way to die mid-run and come back on the same port."""

from __future__ import annotations

import copy
import json
import threading
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import SAMPLES, SAMPLES_MISSING, SAMPLES_PRESENT

REAL = SAMPLES / "real"


def load(name: str) -> Any:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


class ApiServer:
    def __init__(self, token: str | None = "test-token") -> None:
        if not SAMPLES_PRESENT:     # a clone without ../shared: every test that needs this server skips
            pytest.skip(SAMPLES_MISSING)
        self.token = token
        self.snipeit = load("snipeit_api_v1_hardware_jupiterone.json")["rows"]
        self.servicenow = load("servicenow_table_api_cmdb_ci_server_jupiterone.json")["result"]
        jamf = load("jamf_classic_api_computer_jupiterone.json")
        self.jamf = {int(jamf["computer"]["general"]["id"]): jamf}
        self.opencost = load("opencost_allocation_swagger_example.json")
        self.faults: deque[tuple[int, dict[str, str]]] = deque()
        self.requests: list[str] = []
        self.die_after: int | None = None
        self.dead = False
        self.port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, status: int, times: int = 1, **headers: str) -> None:
        for _ in range(times):
            self.faults.append((status, headers))

    def start(self) -> None:
        owner = self
        self.dead = False

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return None

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if owner.dead:   # died mid-run: the connection drops without an answer
                    self.close_connection = True
                    return
                owner.requests.append(self.path)
                if owner.faults:
                    status, headers = owner.faults.popleft()
                    self._send(status, {"error": {"message": f"injected {status}"}}, headers)
                else:
                    status, body = owner.answer(self.path, self.headers.get("Authorization"))
                    self._send(status, body, {})
                if owner.die_after is not None:
                    owner.die_after -= 1
                    if owner.die_after <= 0:
                        owner.die_after = None
                        owner.dead = True
                        threading.Thread(target=owner.stop, daemon=True).start()

            def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def answer(self, raw: str, auth: str | None) -> tuple[int, Any]:
        if self.token is not None and auth != f"Bearer {self.token}":
            return 401, {"error": {"message": "User Not Authenticated"}}
        u = urlparse(raw)
        qs = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/api/v1/hardware":
            rows = sorted(self.snipeit, key=lambda r: r["updated_at"]["datetime"], reverse=qs.get("order") == "desc")
            off, lim = int(qs.get("offset", 0)), int(qs.get("limit", 50))
            return 200, {"total": len(rows), "rows": rows[off:off + lim]}
        if u.path == "/JSSResource/computers/subset/basic":
            return 200, {"computers": [{"id": i, "name": c["computer"]["general"]["name"],
                                        "serial_number": c["computer"]["general"]["serial_number"],
                                        "report_date_utc": c["computer"]["general"]["report_date_utc"]}
                                       for i, c in sorted(self.jamf.items())]}
        if u.path.startswith("/JSSResource/computers/id/"):
            doc = self.jamf.get(int(u.path.rsplit("/", 1)[1]))
            return (200, doc) if doc else (404, {"error": "not found"})
        if u.path == "/api/now/table/cmdb_ci_server":
            query = qs.get("sysparm_query", "")
            rows = sorted(self.servicenow, key=lambda r: r["sys_updated_on"])
            for part in query.split("^"):
                if part.startswith("sys_updated_on>"):
                    rows = [r for r in rows if r["sys_updated_on"] > part.split(">", 1)[1]]
            off, lim = int(qs.get("sysparm_offset", 0)), int(qs.get("sysparm_limit", 10000))
            return 200, {"result": rows[off:off + lim]}
        if u.path == "/allocation":
            start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in qs["window"].split(","))
            sample = self.opencost["data"][0]
            w = next(iter(sample.values()))["window"]
            s0, e0 = (datetime.fromisoformat(w[k].replace("Z", "+00:00")) for k in ("start", "end"))
            return 200, (copy.deepcopy(self.opencost) if start < e0 and s0 < end else
                         {"code": 200, "status": "success", "data": [{}]})
        return 404, {"error": f"no route {u.path}"}


def sample_path(name: str) -> Path:
    return REAL / name
