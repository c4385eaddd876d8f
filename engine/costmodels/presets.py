"""The three scenarios a workshop starts from. Pools are named as the demo rule set names its steps
(docs/rules.md); against another rule set, a preset whose pools do not exist simply subsidises nothing."""

from __future__ import annotations

from decimal import Decimal

from engine.costmodels.scenarios import Scenario, Subsidy

SHOWBACK = Scenario(name="Showback", model="showback",
                    description="Informational: every unit sees its allocated cost; nobody is charged.")
FULL_RECOVERY = Scenario(name="Full-recovery chargeback", model="full_recovery",
                         description="Every allocated cent is charged to its consumer.")
SUBSIDISED = Scenario(
    name="Chargeback, security subsidised 30%, markup 5%",
    model="subsidised",
    description="30% of security tooling carried centrally; a 5% overhead markup on the charge.",
    subsidies=[Subsidy(column="source_pool", values=["security"], pct=Decimal(30), label="Security tooling 30%")],
    markup_pct=Decimal(5),
)

PRESETS: tuple[Scenario, ...] = (SHOWBACK, FULL_RECOVERY, SUBSIDISED)
