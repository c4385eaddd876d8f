"""Which pages exist and which roles may open them: the single table both navigation and guards read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.access import policy

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PageSpec:
    key: str            # file stem under pages/, also the URL path
    title: str
    icon: str
    section: str
    roles: tuple[str, ...]

    @property
    def path(self) -> Path:
        return ROOT / "pages" / f"{self.key}.py"


PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview", "Executive overview", ":material/dashboard:", "Dashboards",
             ("admin", "finops", "executive", "auditor")),
    PageSpec("explorer", "Cost explorer", ":material/account_tree:", "Dashboards",
             ("app_owner", "admin", "finops", "executive", "auditor")),
    PageSpec("anomalies", "Anomalies", ":material/crisis_alert:", "Dashboards",
             (*policy.roles_for("triage_anomalies"), "executive", "auditor")),  # the last two read only
    PageSpec("workshop", "Allocation workshop", ":material/tune:", "Allocation", policy.roles_for("run_workshop")),
    PageSpec("scenarios", "Scenario comparison", ":material/compare_arrows:", "Allocation",
             ("finops", "admin", "executive")),
    PageSpec("month_close", "Month close", ":material/event_available:", "Allocation",
             policy.roles_for("close_month")),
    PageSpec("statements", "Statements", ":material/receipt_long:", "Allocation",
             ("app_owner", "finops", "admin", "auditor")),
    PageSpec("disputes", "Disputes", ":material/gavel:", "Allocation",
             ("app_owner", "finops", "admin", "auditor")),
    PageSpec("improvement", "Continuous improvement", ":material/trending_up:", "Governance",
             (*policy.roles_for("lead_improvement"), "executive", "auditor")),  # the last two read only
    PageSpec("explain", "Explain a charge", ":material/calculate:", "Allocation",
             ("finops", "admin", "auditor", "app_owner")),
    PageSpec("cost_models", "Cost models", ":material/functions:", "Allocation",
             ("finops", "admin", "auditor", "executive")),  # the last two read only (edit_cost_models)
    PageSpec("catalogue", "Service catalogue", ":material/menu_book:", "Allocation",
             ("app_owner", "finops", "admin", "auditor", "executive")),  # app owners see their applications only
    PageSpec("ingest", "Ingest", ":material/upload_file:", "Data", policy.roles_for("ingest")),
    PageSpec("invoices", "Invoices", ":material/request_quote:", "Data", policy.roles_for("manage_invoices")),
    PageSpec("fx_rates", "FX rates", ":material/currency_exchange:", "Data",
             (*policy.roles_for("manage_fx"), "auditor", "executive")),  # the last two read only
    PageSpec("reconciliation", "Reconciliation", ":material/rule_settings:", "Data", ("finops", "admin", "auditor")),
    PageSpec("sources", "Sources", ":material/sync:", "Data", policy.roles_for("manage_sources")),
    PageSpec("rules", "Rule versions", ":material/rule:", "Governance", ("finops", "admin", "auditor")),
    PageSpec("scope", "Scope and basis", ":material/category:", "Governance", ("finops", "admin", "auditor")),
    PageSpec("planning", "Plan vs actual", ":material/query_stats:", "Allocation", ("finops", "admin", "auditor")),
    PageSpec("exceptions", "Business exceptions", ":material/event_busy:", "Governance",
             ("finops", "admin", "auditor")),
    PageSpec("contracts", "Contracts", ":material/handshake:", "Governance",
             ("finops", "admin", "auditor", "executive")),
    PageSpec("users", "Users", ":material/group:", "Governance", policy.roles_for("manage_users")),
    PageSpec("audit_trail", "Audit trail", ":material/policy:", "Governance", ("admin", "finops", "auditor")),
)


def spec(key: str) -> PageSpec:
    for p in PAGES:
        if p.key == key:
            return p
    raise KeyError(key)


def roles_for(key: str) -> tuple[str, ...]:
    return spec(key).roles


def pages_for(role: str) -> list[PageSpec]:
    return [p for p in PAGES if role in p.roles and p.path.exists()]
