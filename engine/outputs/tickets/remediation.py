"""Title and body of a remediation task for a misallocated asset: no owner, an owner who has left, or a resource
without the cost-centre tag. Plain text, so any target kind can carry it; the caller passes the result to
`open_ticket(con, target, task.subject_kind, task.subject_id, task.title, task.body, link, actor,
cost_center_id=task.cost_center_id)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from engine.errors import InputError

Problem = Literal["no_owner", "retired_owner", "untagged"]
PROBLEMS: tuple[str, ...] = get_args(Problem)

# Facts shown in the body, in this order, when the row has them (asset columns, then cost-line columns).
_FACTS = (
    ("asset_id", "Asset id"), ("asset_tag", "Asset tag"), ("serial", "Serial"), ("class", "Class"),
    ("model", "Model"), ("vendor", "Vendor"), ("owner", "Owner"), ("cost_center_id", "Cost centre"),
    ("app_id", "Application"), ("location", "Location"), ("environment", "Environment"),
    ("lifecycle_status", "Lifecycle"), ("purchase_date", "Purchased"), ("cost", "Cost"), ("source", "Source"),
    ("provider", "Provider"), ("sub_account_id", "Account"), ("service_name", "Service"),
    ("resource_id", "Resource id"), ("resource_type", "Resource type"), ("region_id", "Region"),
    ("effective_cost", "Effective cost"), ("billing_period", "Billing period"),
)

_ASK = {
    "no_owner": "This asset has no owner, so its cost cannot follow a person or be confirmed by anyone. "
                "Find who uses it and record the owner in the inventory source; Apportion picks it up at the next "
                "load.",
    "retired_owner": "This asset's owner has left or been retired, so nobody answers for its cost. Reassign it to "
                     "a current owner (or retire the asset) in the inventory source.",
    "untagged": "This resource carries no cost-centre tag, so its cost falls to the account owner or stays "
                "unattributed. Add the cost-centre tag (and the application tag where it applies) at the source.",
}


@dataclass(frozen=True)
class RemediationTask:
    subject_kind: str       # asset.no_owner | asset.retired_owner | asset.untagged
    subject_id: str
    title: str
    body: str
    cost_center_id: str | None


def _s(row: Mapping[str, Any], key: str) -> str | None:
    v = row.get(key)
    if v is None:
        return None
    text = str(v).strip()
    return text or None


def remediation_task(row: Mapping[str, Any], problem: str, *, detail: str | None = None) -> RemediationTask:
    """The task for one asset row (columns of `asset`) or one untagged resource (columns of `cost_line`)."""
    if problem not in PROBLEMS:
        raise InputError(f"remediation problem must be one of {', '.join(PROBLEMS)} (got {problem!r})")
    subject_id = _s(row, "asset_id") or _s(row, "resource_id")
    if subject_id is None:
        raise InputError("a remediation task needs the asset's asset_id or the resource's resource_id")
    what = _s(row, "class") or _s(row, "resource_type") or _s(row, "service_name") or "asset"
    label = _s(row, "asset_tag") or _s(row, "serial") or subject_id
    if problem == "no_owner":
        title = f"Assign an owner to {what} {label}"
    elif problem == "retired_owner":
        title = f"Reassign {what} {label}: owner {_s(row, 'owner') or '(unknown)'} has left"
    else:
        title = f"Tag {what} {label} with its cost centre"
    facts = [f"- {name}: {v}" for key, name in _FACTS if (v := _s(row, key)) is not None]
    parts = [_ASK[problem]]
    if detail:
        parts.append(detail.strip())
    if facts:
        parts.append("\n".join(facts))
    return RemediationTask(f"asset.{problem}", subject_id, title, "\n\n".join(parts), _s(row, "cost_center_id"))
