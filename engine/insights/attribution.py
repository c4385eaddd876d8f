"""Direct attribution of cost lines, the shared base of dashboard queries before (or beside) allocation runs.

A line belongs to its valid cost-centre tag, else to its application tag's cost centre, else to its account owner,
else to nobody ('Unattributed') — the order of the direct steps' fallback, so dashboards and allocation agree.
Scoping is part of the SQL: an app owner's rows are filtered here, in the engine, not in the page.
"""

from __future__ import annotations

from engine.access.scope import cost_center_filter
from engine.access.users import User

UNATTRIBUTED = "Unattributed"

# Who a cost line `l` belongs to before any allocation, in the order the direct steps' fallback reads it: its valid
# cost-centre tag, else its application tag's cost centre, else its account's owner. Its application: the tagged
# one, else the account owner's — and only when that application belongs to the line's cost centre, so a scope
# never shows another cost centre's application. Every query that attributes lines uses these two.
_LINE_CC = "coalesce(tcc.unit_id, app.cost_center_id, ao.cost_center_id)"
LINE_OWNER = (f"{_LINE_CC} AS cost_center_id, "
              f"CASE WHEN app.cost_center_id = {_LINE_CC} THEN app.app_id "
              f"WHEN aoa.cost_center_id = {_LINE_CC} THEN ao.app_id END AS app_id")
LINE_OWNER_JOINS = ("LEFT JOIN org_unit tcc ON tcc.unit_id = l.tag_cost_center AND tcc.kind = 'cost_center' "
                    "LEFT JOIN account_owner ao ON ao.provider = l.provider AND ao.sub_account_id = l.sub_account_id "
                    "LEFT JOIN application app ON app.app_id = l.tag_application "
                    "LEFT JOIN application aoa ON aoa.app_id = ao.app_id")

_ATTRIBUTED = """
WITH cc AS (
    SELECT c.unit_id AS cost_center_id, c.name AS cost_center, b.unit_id AS business_unit_id,
           b.name AS business_unit
    FROM org_unit c LEFT JOIN org_unit b ON b.unit_id = c.parent_id
    WHERE c.kind = 'cost_center'
),
attributed AS (
    SELECT l.billing_period AS period, l.provider, l.service_name, l.service_category, l.resource_id,
           l.sub_account_id, l.tag_environment AS environment, l.tags, l.effective_cost, l.billed_cost,
           (l.tag_cost_center IS NULL) AS untagged,
           (l.tag_cost_center IS NOT NULL AND tcc.unit_id IS NULL) AS mistagged,
           {owner}
    FROM {lines} l
    {owner_joins}
),
scoped AS (
    SELECT a.*, coalesce(cc.business_unit, '{unattributed}') AS business_unit,
           coalesce(cc.cost_center, '{unattributed}') AS cost_center,
           coalesce(ap.name, a.app_id, '{unattributed}') AS application
    FROM attributed a LEFT JOIN cc USING (cost_center_id) LEFT JOIN application ap ON ap.app_id = a.app_id
    WHERE {scope}
)
"""


def attributed_cte(user: User | None, lines: str = "cost_line") -> tuple[str, list[object]]:
    """A WITH clause ending in the CTE `scoped`, and its parameters; append a SELECT over `scoped`. `lines`: what
    is attributed — cost_line, or the rollup in its shape (engine/store/rollup.py AS_LINES: sums, not lines)."""
    pred, params = cost_center_filter(user, "a.cost_center_id")
    return _ATTRIBUTED.format(scope=pred, unattributed=UNATTRIBUTED, owner=LINE_OWNER, lines=lines,
                              owner_joins=LINE_OWNER_JOINS), params
