"""Tickets for anomalies and remediation tasks, sent to Jira, ServiceNow or a JSON webhook (docs/tickets.md).

- `targets`: where tickets go, configured in the store; tokens come from environment variables named there.
- `formats`: the request and reply shapes of each API, and the idempotency key.
- `client`: one send round over httpx with tenacity retries (`RetryPolicy`).
- `service`: `open_ticket` (exactly one ticket per subject) and `retry_pending`.
- `remediation`: title/body of a task for a misallocated asset.
"""

from __future__ import annotations

from engine.outputs.tickets.client import DEFAULT_POLICY, RetryPolicy, parse_retry_after
from engine.outputs.tickets.formats import TicketRequest, idempotency_key, webhook_body
from engine.outputs.tickets.remediation import PROBLEMS, RemediationTask, remediation_task
from engine.outputs.tickets.service import Ticket, get_ticket, list_tickets, open_ticket, retry_pending
from engine.outputs.tickets.targets import (
    KINDS,
    TicketTarget,
    add_target,
    disable_target,
    get_target,
    list_targets,
    targets_for,
    token_for,
    update_target,
)

__all__ = [
    "DEFAULT_POLICY", "KINDS", "PROBLEMS", "RemediationTask", "RetryPolicy", "Ticket", "TicketRequest", "TicketTarget",
    "add_target", "disable_target", "get_target", "get_ticket", "idempotency_key", "list_targets", "list_tickets",
    "open_ticket", "parse_retry_after", "remediation_task", "retry_pending", "targets_for", "token_for",
    "update_target", "webhook_body",
]
