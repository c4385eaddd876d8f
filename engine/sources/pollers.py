"""One poller per API kind: fetch only what changed since the cursor, every page, into the document shape the file
connector already reads (so a polled row and an uploaded row go through the same parser and pipeline).

- snipeit: `GET /api/v1/hardware?limit&offset&sort=updated_at&order=desc`, stopping at the first row not newer than
  the cursor; cursor = max `updated_at.datetime`; document `{"total": n, "rows": [...]}`.
- jamf (Classic API): `GET /JSSResource/computers/subset/basic`, then `GET /JSSResource/computers/id/{id}` for each
  computer whose `report_date_utc` is newer; cursor = max `report_date_utc`; document `[{"computer": {...}}, ...]`.
- servicenow (Table API): `GET /api/now/table/{table}?sysparm_query=sys_updated_on>CURSOR^ORDERBYsys_updated_on`
  with `sysparm_limit`/`sysparm_offset`; cursor = max `sys_updated_on`; document `{"result": [...]}`.
- opencost: `GET /allocation?window=START,END&aggregate=namespace&accumulate=true` for [cursor, this hour);
  cursor = the window's end; document = the response.

Nothing here touches the store: a poll that fails part-way returns nothing and leaves the cursor where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.sources.config import Source
from engine.sources.http import Client, PollFailed


@dataclass
class Fetched:
    connector: str            # the file connector that parses `document`
    document: Any
    rows: int                 # records fetched (0: nothing changed since the cursor)
    cursor: str | None        # the cursor to keep once the rows are loaded


def _page_size(src: Source, default: int) -> int:
    size = int(src.option("page_size", default))
    if not 1 <= size <= 10_000:
        raise PollFailed(f"source '{src.name}': page_size must be between 1 and 10000 (got {size})")
    return size


def _max(a: str | None, b: str | None) -> str | None:
    return b if a is None or (b is not None and b > a) else a


def _listing(doc: Any, key: str, url: str) -> list[Any]:
    rows = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise PollFailed(f"{url} answered without a '{key}' list; is the endpoint right?")
    return rows


def poll_snipeit(client: Client, src: Source, cursor: str | None) -> Fetched:
    size = _page_size(src, 100)
    rows: list[Any] = []
    newest = cursor
    offset = 0
    while True:
        doc = client.get_json("/api/v1/hardware", {"limit": size, "offset": offset, "sort": "updated_at",
                                                    "order": "desc"})
        page = _listing(doc, "rows", f"{src.endpoint}/api/v1/hardware")
        stop = False
        for r in page:
            stamp = (r.get("updated_at") or {}).get("datetime") if isinstance(r, dict) else None
            if cursor is not None and isinstance(stamp, str) and stamp <= cursor:
                stop = True      # sorted newest first: everything after this is already loaded
                break
            rows.append(r)
            newest = _max(newest, stamp if isinstance(stamp, str) else None)
        offset += len(page)
        total = doc.get("total") if isinstance(doc, dict) else None
        if stop or not page or len(page) < size or (isinstance(total, int) and offset >= total):
            break
    return Fetched("snipeit", {"total": len(rows), "rows": rows}, len(rows), newest)


def poll_jamf(client: Client, src: Source, cursor: str | None) -> Fetched:
    listing = _listing(client.get_json("/JSSResource/computers/subset/basic"), "computers",
                       f"{src.endpoint}/JSSResource/computers/subset/basic")
    newest = cursor
    docs: list[Any] = []
    for c in listing:
        if not isinstance(c, dict) or c.get("id") is None:
            continue
        stamp = c.get("report_date_utc") if isinstance(c.get("report_date_utc"), str) else None
        if cursor is not None and stamp is not None and stamp <= cursor:
            continue
        doc = client.get_json(f"/JSSResource/computers/id/{int(c['id'])}")
        if not isinstance(doc, dict) or not isinstance(doc.get("computer"), dict):
            raise PollFailed(f"{src.endpoint}/JSSResource/computers/id/{c['id']} answered without a 'computer'")
        docs.append(doc)
        newest = _max(newest, stamp)
    return Fetched("jamf", docs, len(docs), newest)


def poll_servicenow(client: Client, src: Source, cursor: str | None) -> Fetched:
    table = str(src.option("table", "cmdb_ci_server"))
    if not table.replace("_", "").isalnum():
        raise PollFailed(f"source '{src.name}': '{table}' is not a ServiceNow table name")
    size = _page_size(src, 100)
    query = (f"sys_updated_on>{cursor}^" if cursor else "") + "ORDERBYsys_updated_on"
    rows: list[Any] = []
    newest = cursor
    offset = 0
    while True:
        page = _listing(client.get_json(f"/api/now/table/{table}", {
            "sysparm_query": query, "sysparm_limit": size, "sysparm_offset": offset,
            "sysparm_display_value": src.option("display_value", "false"), "sysparm_exclude_reference_link": "false",
        }), "result", f"{src.endpoint}/api/now/table/{table}")
        rows.extend(page)
        for r in page:
            stamp = r.get("sys_updated_on") if isinstance(r, dict) else None
            newest = _max(newest, stamp if isinstance(stamp, str) else None)
        offset += len(page)
        if len(page) < size:
            break
    return Fetched("servicenow", {"result": rows}, len(rows), newest)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def poll_opencost(client: Client, src: Source, cursor: str | None, now: datetime | None = None) -> Fetched:
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first = cursor or src.option("start", None) or _iso(end - timedelta(days=1))
    try:
        start = datetime.fromisoformat(str(first).replace("Z", "+00:00"))
    except ValueError:
        raise PollFailed(f"source '{src.name}': start '{first}' is not an ISO 8601 time") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end <= start:
        return Fetched("opencost", None, 0, cursor)
    doc = client.get_json("/allocation", {"window": f"{_iso(start)},{_iso(end)}",
                                          "aggregate": src.option("aggregate", "namespace"), "accumulate": "true"})
    data = _listing(doc, "data", f"{src.endpoint}/allocation")
    rows = sum(len(step) for step in data if isinstance(step, dict))
    return Fetched("opencost", doc, rows, _iso(end))


POLLERS: dict[str, Callable[[Client, Source, str | None], Fetched]] = {
    "snipeit": poll_snipeit, "jamf": poll_jamf, "servicenow": poll_servicenow, "opencost": poll_opencost,
}
