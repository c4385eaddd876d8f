"""A two-cost-centre store with two months of bills, an app owner of A and two FinOps users."""

from __future__ import annotations

import duckdb

from engine.access.users import User, get_user
from engine.rules import model, versions
from tests.conftest import add_users
from tests.unit.allocation_data import add_lines, add_org

JAN, FEB, MAR = "2026-01", "2026-02", "2026-03"


def desk() -> model.RuleSet:
    return model.from_data({"name": "desk", "steps": [
        {"id": "desk", "name": "Service desk", "method": {"kind": "fixed", "split": {"A": 60, "B": 40}}}]})


def setup(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"A": "BU1", "B": "BU2"}, ["BU1", "BU2"])
    for p in (JAN, FEB, MAR):
        add_lines(con, [{"effective_cost": "1000.00", "batch_id": f"b-{p}"}], period=p)
    add_users(con, "app_owner", "omar")
    con.execute("INSERT INTO user_scope VALUES ('omar', 'A')")
    add_users(con, "finops", "fiona", "fred")
    versions.publish(con, desk(), "fiona", "fred", "desk split", JAN)


def user(con: duckdb.DuckDBPyConnection, name: str) -> User:
    u = get_user(con, name)
    assert u is not None
    return u
