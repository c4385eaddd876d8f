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
    PageSpec("explain", "Explain a charge", ":material/calculate:", "Allocation",
             ("finops", "admin", "auditor", "app_owner")),
    PageSpec("ingest", "Ingest", ":material/upload_file:", "Data", policy.roles_for("ingest")),
    PageSpec("reconciliation", "Reconciliation", ":material/rule_settings:", "Data", ("finops", "admin", "auditor")),
    PageSpec("rules", "Rule versions", ":material/rule:", "Governance", ("finops", "admin", "auditor")),
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
