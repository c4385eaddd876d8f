"""Statements as a user asks for them: the scope check happens here, in the engine, before anything is read."""

from __future__ import annotations

import duckdb

from engine.access.scope import ensure_can_see
from engine.access.users import User
from engine.allocation.runs import latest_run
from engine.costmodels.scenarios import Scenario
from engine.errors import NotFound
from engine.outputs.statements import Statement, build_statement


def statement_for(con: duckdb.DuckDBPyConnection, user: User, period: str, cost_center_id: str,
                  scenario: Scenario) -> Statement:
    """The latest posted run's statement for one cost centre; AccessDenied outside the user's scope."""
    ensure_can_see(user, cost_center_id)
    run = latest_run(con, period)
    if run is None:
        raise NotFound(f"{period} has no posted allocation run yet")
    return build_statement(con, run, cost_center_id, scenario)
