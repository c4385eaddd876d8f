"""Statements as a user asks for them: the scope check happens here, in the engine, before anything is read.

What a statement may show is decided here too: a cost centre's own figures for anyone who may see that cost centre;
the organisation-wide reconciliation (the run's allocated total against the period's invoices, and the difference)
only for users who see the whole organisation; anomalies through the workflow's scoped query.
"""

from __future__ import annotations

import duckdb

from engine.access.scope import ensure_can_see
from engine.access.users import User
from engine.allocation.runs import latest_run
from engine.costmodels.scenarios import Scenario
from engine.errors import NotFound
from engine.outputs.statements import Statement, build_statement, open_flags


def sees_whole_organisation(user: User | None) -> bool:
    """True for users whose scope is every cost centre (engine.access.scope: `cost_centers is None`, i.e. finops,
    admin, auditor and executive as engine.access.users reads them); False for app owners and for nobody."""
    return user is not None and user.cost_centers is None


def statement_for(con: duckdb.DuckDBPyConnection, user: User, period: str, cost_center_id: str,
                  scenario: Scenario) -> Statement:
    """The latest posted run's statement for one cost centre, or for a business unit (all its cost centres);
    AccessDenied outside the user's scope (an app owner sees a business unit only if its scope holds every cost
    centre of it)."""
    below = [r[0] for r in con.execute("SELECT unit_id FROM org_unit WHERE parent_id = ? AND kind = 'cost_center'",
                                       [cost_center_id]).fetchall()]
    for cc in below or [cost_center_id]:
        ensure_can_see(user, cc)
    run = latest_run(con, period)
    if run is None:
        raise NotFound(f"{period} has no posted allocation run yet")
    return build_statement(con, run, cost_center_id, scenario, organisation=sees_whole_organisation(user),
                           flags=open_flags(con, user, period, cost_center_id))
