"""IdP sign-in exports → driver_value active users per app (and per department within each app) per month.

When a SaaS vendor bills a flat fee or reports usage only in aggregate, who actually signs in is the fairest proxy
for who uses it. Accepted exports:
- Microsoft Entra ID → Sign-in logs → Download → CSV: `Date (UTC)`, `Request ID`, `User`, `Username`, `User ID`,
  `Application`, `Application ID`, `Status` (`Success`/`Failure`/`Interrupted`), ... (a `Department` column, when
  the export was joined with the directory, is used directly).
- Microsoft Graph `GET /auditLogs/signIns` JSON: `{"value": [{"createdDateTime", "userPrincipalName",
  "appDisplayName", "status": {"errorCode"}}]}`.
- Okta System Log API JSON (`GET /api/v1/logs`, a list of LogEvents): `eventType` `user.authentication.sso`,
  `actor.alternateId`, `target[type=AppInstance].displayName`, `outcome.result`.

Only successful sign-ins count. Sign-in logs carry no department, so the department comes from a `Department`
column when present, else from an optional `user-departments.csv` next to the export (columns `user,department`,
user = UPN or login), else 'UNASSIGNED' (with a warning naming how many users).

Rows produced (one user counts once per app and month, however often they sign in):
- `active_users`, target_kind application, target_id = app name;
- `active_users:<app>`, target_kind cost_center, target_id = department — the split of that app's users.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors._kit.source_rows import (
    DRIVER_SCHEMA,
    Collector,
    FramePlan,
    RowError,
    count_columns,
    lookup,
    parse_date,
    read_csv_rows,
    read_json,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean

DEPARTMENTS_FILE = "user-departments.csv"
UNASSIGNED = "UNASSIGNED"
_ENTRA_MARKERS = ("Date (UTC)", "Request ID", "Correlation ID", "User ID", "Application ID", "Sign-in error code",
                  "Client app", "Conditional Access", "Authentication requirement")


def _departments(folder: Path) -> dict[str, str]:
    path = folder / DEPARTMENTS_FILE
    if not path.exists():
        return {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        return {u.lower(): d for row in csv.DictReader(f)
                if (u := clean(row.get("user"))) and (d := clean(row.get("department")))}


@dataclass(frozen=True)
class SaasSigninConnector(FramePlan):
    name: str = "saas_signin"
    target_table: str = "driver_value"
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        if sniff.columns:
            return count_columns(sniff.columns, ("Application", "Username", "Status")) == 3 and count_columns(
                sniff.columns, _ENTRA_MARKERS) >= 2
        head = sniff.head.decode("utf-8-sig", errors="replace")
        return ('"appDisplayName"' in head and '"userPrincipalName"' in head and '"createdDateTime"' in head) or (
            '"eventType"' in head and '"actor"' in head and '"published"' in head)

    def parse(self, path: Path) -> ParseResult:
        with open(path, "rb") as f:
            first = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()[:1]
        events = self._json_events(path) if first in ("{", "[") else self._csv_events(path)
        depts = _departments(path.parent)
        out = Collector(path.name, DRIVER_SCHEMA)
        users_by_app: dict[tuple[str, str], set[str]] = defaultdict(set)
        users_by_dept: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        first_row: dict[tuple[str, ...], int] = {}
        failed = 0
        no_dept: set[str] = set()
        for n, ev in events:
            out.rows_read += 1
            if isinstance(ev, RowError):
                out.refuse(n, ev.column, ev.reason, None)
                continue
            when, user, app, ok, dept, raw = ev
            if not ok:
                failed += 1
                continue
            try:
                day = parse_date(when, "date")
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, raw)
                continue
            if day is None or user is None or app is None:
                missing = "date" if day is None else "user" if user is None else "application"
                out.refuse(n, missing, f"missing {missing}", raw)
                continue
            period = f"{day.year:04d}-{day.month:02d}"
            user = user.lower()
            dept = dept or depts.get(user) or depts.get(user.split("@")[0])
            if dept is None:
                no_dept.add(user)
                dept = UNASSIGNED
            users_by_app[(period, app)].add(user)
            users_by_dept[(period, app, dept)].add(user)
            first_row.setdefault((period, app), n)
            first_row.setdefault((period, app, dept), n)
        for (period, app), users in sorted(users_by_app.items()):
            out.accept(first_row[(period, app)], {"period": period, "driver": "active_users",
                                                  "target_kind": "application", "target_id": app,
                                                  "quantity": float(len(users))}, None)
        for (period, app, dept), users in sorted(users_by_dept.items()):
            out.accept(first_row[(period, app, dept)], {"period": period, "driver": f"active_users:{app}",
                                                        "target_kind": "cost_center", "target_id": dept,
                                                        "quantity": float(len(users))}, None)
        if failed:
            out.warnings.append(f"{failed} unsuccessful sign-ins or non-sign-in events not counted")
        if no_dept:
            out.warnings.append(f"{len(no_dept)} users have no department (counted under {UNASSIGNED}); add a "
                                f"Department column or {DEPARTMENTS_FILE} next to the export")
        return out.result(self.name, self.target_table)

    @staticmethod
    def _csv_events(path: Path) -> list[tuple[int, Any]]:
        _, rows = read_csv_rows(path)
        events: list[tuple[int, Any]] = []
        for n, row in rows:
            status = (clean(lookup(row, "Status")) or "").lower()
            events.append((n, (lookup(row, "Date (UTC)", "Date", "createdDateTime"),
                               clean(lookup(row, "Username", "User principal name", "userPrincipalName")),
                               clean(lookup(row, "Application", "appDisplayName")),
                               status == "success", clean(lookup(row, "Department")), row)))
        return events

    @staticmethod
    def _json_events(path: Path) -> list[tuple[int, Any]]:
        doc = read_json(path)
        items = doc.get("value") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise FileRefused(path.name, "Graph signIns ({\"value\": [...]}) or an Okta System Log event list")
        events: list[tuple[int, Any]] = []
        for n, it in enumerate(items, start=1):
            if not isinstance(it, dict):
                events.append((n, RowError(None, "sign-in event is not a JSON object")))
                continue
            if "eventType" in it:   # Okta LogEvent
                if it.get("eventType") != "user.authentication.sso":
                    events.append((n, (it.get("published"), None, None, False, None, it)))
                    continue
                app = next((clean(t.get("displayName")) for t in it.get("target") or []
                            if isinstance(t, dict) and t.get("type") == "AppInstance"), None)
                ok = str((it.get("outcome") or {}).get("result", "")).upper() == "SUCCESS"
                events.append((n, (it.get("published"), clean((it.get("actor") or {}).get("alternateId")), app, ok,
                                   None, it)))
            else:                   # Graph signIn
                ok = (it.get("status") or {}).get("errorCode") == 0
                events.append((n, (it.get("createdDateTime"), clean(it.get("userPrincipalName")),
                                   clean(it.get("appDisplayName")), ok, clean(it.get("department")), it)))
        return events


CONNECTOR: Connector = SaasSigninConnector()
