"""What goes over the wire for each kind of target, and how each reply is read. Pure functions: no I/O.

- Jira REST v2: create `POST {base}/rest/api/2/issue`, reply `{"id", "key", "self"}`; lookup
  `GET {base}/rest/api/2/search?jql=project = "P" AND labels = "<key>"`, reply `{"issues": [{"id", "key", "self"}]}`.
- ServiceNow Table API: create `POST {base}/api/now/table/incident`, reply `{"result": {"number", "sys_id", …}}`;
  lookup `GET {base}/api/now/table/incident?sysparm_query=correlation_id=<key>`, reply `{"result": [{…}]}`.
- Webhook: `POST {base}` with the body of `webhook_body`; reply `{"id", "url"}` if the receiver has them; no lookup.

docs/tickets.md has the field-by-field description and what each API offers for finding a ticket again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from engine.outputs.tickets.targets import DEFAULT_ISSUE_TYPE, TicketTarget

KEY_PREFIX = "apportion-"
WEBHOOK_SCHEMA = "apportion.ticket/1"
JIRA_SUMMARY_MAX = 255          # Jira rejects a longer summary
SERVICENOW_SHORT_MAX = 160      # incident.short_description's default length
ERROR_TEXT_MAX = 300


def idempotency_key(target_name: str, subject_kind: str, subject_id: str) -> str:
    """Stable key of one subject at one target: `apportion-` + 32 hex digits (a valid Jira label, well inside
    ServiceNow's 100-character correlation_id)."""
    digest = hashlib.sha256(json.dumps([target_name, subject_kind, subject_id]).encode()).hexdigest()
    return KEY_PREFIX + digest[:32]


@dataclass(frozen=True)
class TicketRequest:
    """What is sent for one subject; the same text on every attempt."""

    idempotency_key: str
    target_name: str
    subject_kind: str
    subject_id: str
    title: str
    body: str
    link: str | None
    cost_center_id: str | None = None


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    params: dict[str, str] | None = None
    json: dict[str, Any] | None = None


@dataclass(frozen=True)
class Created:
    """A ticket on the remote side, as read from a create reply or a lookup."""

    reference: str | None
    remote_id: str | None = None
    url: str | None = None
    api_url: str | None = None


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def description(req: TicketRequest) -> str:
    """The long text: the body, the link back into Apportion, and the key (so a person can dedupe by eye too)."""
    parts = [req.body.strip()]
    if req.link:
        parts.append(f"Open in Apportion: {req.link}")
    parts.append(f"Apportion reference: {req.idempotency_key} ({req.subject_kind} {req.subject_id})")
    return "\n\n".join(p for p in parts if p)


def webhook_body(target: TicketTarget, req: TicketRequest) -> dict[str, Any]:
    """The documented webhook body (schema `apportion.ticket/1`)."""
    return {
        "schema": WEBHOOK_SCHEMA,
        "idempotency_key": req.idempotency_key,
        "target": target.name,
        "subject": {"kind": req.subject_kind, "id": req.subject_id},
        "cost_center_id": req.cost_center_id,
        "title": req.title,
        "body": req.body,
        "link": req.link,
    }


def create_call(target: TicketTarget, req: TicketRequest) -> HttpCall:
    root = target.root()
    if target.kind == "jira":
        return HttpCall("POST", f"{root}/rest/api/2/issue", json={"fields": {
            "project": {"key": target.project_key},
            "summary": _one_line(req.title, JIRA_SUMMARY_MAX),
            "description": description(req),
            "issuetype": {"name": target.issue_type or DEFAULT_ISSUE_TYPE},
            "labels": ["apportion", req.idempotency_key],
        }})
    if target.kind == "servicenow":
        incident: dict[str, Any] = {
            "short_description": _one_line(req.title, SERVICENOW_SHORT_MAX),
            "description": description(req),
            "correlation_id": req.idempotency_key,
            "correlation_display": "Apportion",
        }
        if target.assignment_group:
            incident["assignment_group"] = target.assignment_group
        return HttpCall("POST", f"{root}/api/now/table/incident", params={"sysparm_exclude_reference_link": "true"},
                        json=incident)
    return HttpCall("POST", target.base_url, json=webhook_body(target, req))


def lookup_call(target: TicketTarget, req: TicketRequest) -> HttpCall | None:
    """How to find a ticket created by an earlier attempt whose reply was lost; None where the API has no way
    (a webhook receiver must dedupe on the Idempotency-Key itself)."""
    root = target.root()
    if target.kind == "jira":
        jql = f'project = "{target.project_key}" AND labels = "{req.idempotency_key}" ORDER BY created ASC'
        return HttpCall("GET", f"{root}/rest/api/2/search",
                        params={"jql": jql, "fields": "key", "maxResults": "5"})
    if target.kind == "servicenow":
        return HttpCall("GET", f"{root}/api/now/table/incident", params={
            "sysparm_query": f"correlation_id={req.idempotency_key}^ORDERBYsys_created_on",
            "sysparm_fields": "number,sys_id",
            "sysparm_limit": "5",
        })
    return None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def _jira(target: TicketTarget, item: Any) -> Created | None:
    if not isinstance(item, dict) or _text(item.get("key")) is None:
        return None
    key = str(item["key"])
    return Created(key, _text(item.get("id")), f"{target.root()}/browse/{key}", _text(item.get("self")))


def _servicenow(target: TicketTarget, item: Any) -> Created | None:
    if not isinstance(item, dict) or _text(item.get("number")) is None or _text(item.get("sys_id")) is None:
        return None
    sys_id = str(item["sys_id"])
    return Created(str(item["number"]), sys_id, f"{target.root()}/incident.do?sys_id={sys_id}",
                   f"{target.root()}/api/now/table/incident/{sys_id}")


def parse_created(target: TicketTarget, reply: Any) -> Created | None:
    """The ticket a 2xx create reply describes; None when a Jira/ServiceNow reply lacks the reference (the caller
    then finds the ticket by its key). A webhook reply may be empty: the ticket is open without a reference."""
    if target.kind == "jira":
        return _jira(target, reply)
    if target.kind == "servicenow":
        return _servicenow(target, reply.get("result") if isinstance(reply, dict) else None)
    if not isinstance(reply, dict):
        return Created(None)
    return Created(_text(reply.get("id")), url=_text(reply.get("url")))


def parse_found(target: TicketTarget, reply: Any) -> list[Created] | None:
    """The tickets a lookup reply lists, oldest first ([] when none); None when the reply is in no shape we know."""
    if target.kind == "jira":
        items = reply.get("issues") if isinstance(reply, dict) else None
        read = _jira
    else:
        items = reply.get("result") if isinstance(reply, dict) else None
        read = _servicenow
    if not isinstance(items, list):
        return None
    return [found for item in items if (found := read(target, item)) is not None]


def error_message(reply_text: str) -> str:
    """The server's own words from an error reply: Jira `errorMessages`/`errors`, ServiceNow `error.message` and
    `error.detail`, else the text itself; shortened."""
    try:
        data = json.loads(reply_text)
    except ValueError:
        data = None
    parts: list[str] = []
    if isinstance(data, dict):
        msgs = data.get("errorMessages")
        if isinstance(msgs, list):
            parts += [str(m) for m in msgs if m]
        errs = data.get("errors")
        if isinstance(errs, dict):
            parts += [f"{k}: {v}" for k, v in errs.items()]
        err = data.get("error")
        if isinstance(err, dict):
            parts += [str(err[k]) for k in ("message", "detail") if err.get(k)]
        elif isinstance(err, str):
            parts.append(err)
        if not parts and isinstance(data.get("message"), str):
            parts.append(data["message"])
    text = "; ".join(parts) if parts else " ".join(reply_text.split())
    text = text or "(empty reply)"
    return text if len(text) <= ERROR_TEXT_MAX else text[: ERROR_TEXT_MAX - 1] + "…"
