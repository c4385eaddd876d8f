"""Who may do what: the one role → action table the engine enforces and the pages read to decide what to offer.

A page hiding a button is a courtesy; the engine function behind it calls `require` itself, so a forced click, a
crafted request or a script gets the same answer. Pages that exist for one action take their roles from here too
(ui/navigation.py), so the page list and the engine cannot disagree.
"""

from __future__ import annotations

from engine.access.users import ROLES, User
from engine.errors import AccessDenied, NotFound

ACTIONS: dict[str, tuple[str, ...]] = {
    "ingest": ("finops", "admin"),                  # load, re-deliver or roll back a file
    "close_month": ("finops", "admin"),             # run and post an allocation
    "run_workshop": ("finops", "admin"),            # move drivers live and save the room's draft
    "edit_rules": ("finops", "admin"),              # draft, submit, approve (never one's own), reject, roll back
    "edit_tag_standard": ("finops", "admin"),       # everyone who can see coverage may read it
    "approve_rules": ("finops", "admin"),           # approve or reject a pending rule version nobody else made
    "triage_anomalies": ("finops", "admin", "app_owner"),  # acknowledge, ticket, resolve (app owners: own scope)
    "configure_tickets": ("finops", "admin"),       # ticket targets and their tokens' variable names
    "tune_detectors": ("finops", "admin"),          # anomaly thresholds per scope (versioned, audited)
    "approve_close": ("finops", "admin"),           # approve a month close someone else submitted; locks it
    "reopen_period": ("admin",),                    # re-open a locked month, with a reason
    "manage_budgets": ("finops", "admin"),          # set budgets and quotas
    "manage_contracts": ("finops", "admin"),        # the contract register (procurement's allocation clauses)
    "request_provisioning": ("finops", "admin", "app_owner"),  # ask before deploying (app owners: own scope)
    "manage_users": ("admin",),                     # disable / enable users (disabling revokes their sessions)
    "edit_scope": ("finops", "admin"),              # scope, materiality threshold, owner and basis per pool
    "import_plan": ("finops", "admin"),             # load an FP&A plan per cost centre and period
    "edit_cost_models": ("finops", "admin"),        # rate cards, commitment policy, disposals, transition, catalogue
    "manage_invoices": ("finops", "admin"),         # enter / upload invoice totals, open and settle invoice disputes
    "manage_sources": ("finops", "admin"),         # add, pause, resume and run live sources (docs/sources.md)
    "raise_dispute": ("app_owner", "finops", "admin"),  # dispute a statement line (app owners: own scope)
    "decide_dispute": ("finops", "admin"),          # accept (adjustment in the next run) or reject a dispute
    "lead_improvement": ("finops", "admin"),        # KPI targets, rule reviews, avoided cost, cost to operate
    "manage_gl_mapping": ("finops", "admin"),       # GL accounts per pool for the ERP journals (audited)
    "manage_fx": ("finops", "admin"),               # load or enter FX rates (versioned, audited; docs/fx.md)
    "edit_mappings": ("finops", "admin"),           # save / delete column mapping profiles (versioned, audited)
}
assert all(set(roles) <= set(ROLES) for roles in ACTIONS.values())


def roles_for(action: str) -> tuple[str, ...]:
    try:
        return ACTIONS[action]
    except KeyError:
        raise NotFound(f"no action '{action}' in the access policy (known: {', '.join(sorted(ACTIONS))})") from None


def can(user: User | None, action: str) -> bool:
    return user is not None and user.role in roles_for(action)


def require(user: User | None, action: str, what: str) -> None:
    """Raise AccessDenied naming the user, role and what was refused unless the user's role may do `action`."""
    if user is None:
        raise AccessDenied(f"not signed in: cannot {what}")
    if not can(user, action):
        raise AccessDenied(f"{user.username} ({user.role}) cannot {what}")
