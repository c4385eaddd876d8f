"""Executives see aggregates, not resource lines, unless an admin grants them; the engine refuses, not the page."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from engine.access import grants
from engine.access.users import get_user
from engine.errors import AccessDenied
from engine.insights import explorer
from engine.insights.anomalies import workflow
from engine.insights.explorer import Filters

PERIOD = "2026-10"


def test_resource_lines_need_a_grant_for_executives(demo_con: duckdb.DuckDBPyConnection) -> None:
    eve, fiona, admin = (get_user(demo_con, u) for u in ("eve", "fiona", "admin"))
    assert eve is not None and fiona is not None and admin is not None
    services = explorer.breakdown(demo_con, eve, PERIOD, "service_name")       # aggregates: fine
    assert services.height > 0
    resource = explorer.breakdown(demo_con, fiona, PERIOD, "resource_id").filter(
        pl.col("name") != "(none)")["name"][0]
    with pytest.raises(AccessDenied, match="aggregates"):
        explorer.breakdown(demo_con, eve, PERIOD, "resource_id")
    with pytest.raises(AccessDenied, match="aggregates"):
        explorer.resource_daily(demo_con, eve, PERIOD, resource, Filters())
    incident = workflow.list_anomalies(demo_con, fiona, "active").row(0, named=True)["anomaly_id"]
    with pytest.raises(AccessDenied):
        workflow.drivers(demo_con, eve, incident)
    with pytest.raises(AccessDenied):
        grants.set_grant(demo_con, fiona, "eve", grants.RESOURCE_LINES, True)   # admins only

    grants.set_grant(demo_con, admin, "eve", grants.RESOURCE_LINES, True)
    assert explorer.breakdown(demo_con, eve, PERIOD, "resource_id").equals(
        explorer.breakdown(demo_con, fiona, PERIOD, "resource_id"))
    assert not workflow.drivers(demo_con, eve, incident).is_empty()
    grants.set_grant(demo_con, admin, "eve", grants.RESOURCE_LINES, False)
    assert not grants.can_see_resource_lines(demo_con, eve)
    assert demo_con.execute("SELECT action FROM audit_event WHERE action LIKE 'user.%grant' ORDER BY seq"
                            ).fetchall() == [("user.grant",), ("user.revoke_grant",)]
