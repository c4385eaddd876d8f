"""The role → action policy: one table, enforced by the engine, read by the pages."""

from __future__ import annotations

import duckdb
import pytest

from engine.access import policy
from engine.access.users import ROLES, User
from engine.errors import AccessDenied, NotFound
from engine.tags import standard
from ui.navigation import roles_for as page_roles

FIONA = User("fiona", "Fiona", "finops", None)
EVE = User("eve", "Eve", "executive", None)


def test_every_action_names_known_roles_and_no_one_else() -> None:
    assert policy.ACTIONS and all(set(r) <= set(ROLES) for r in policy.ACTIONS.values())
    assert policy.can(FIONA, "close_month") and not policy.can(EVE, "close_month")
    assert not policy.can(None, "ingest")
    with pytest.raises(NotFound, match="no action 'fly'"):
        policy.can(FIONA, "fly")


def test_pages_that_exist_for_one_action_take_its_roles() -> None:
    assert page_roles("month_close") == policy.roles_for("close_month")
    assert page_roles("ingest") == policy.roles_for("ingest")
    assert page_roles("workshop") == policy.roles_for("run_workshop")


def test_the_engine_refuses_whatever_the_page_showed(con: duckdb.DuckDBPyConnection) -> None:
    std = standard.parse(["cost_center"], "")
    with pytest.raises(AccessDenied, match=r"eve \(executive\) cannot change the tag standard"):
        standard.save(con, std, EVE)
    assert standard.current_version(con) == 0
    with pytest.raises(AccessDenied, match="not signed in"):
        policy.require(None, "edit_tag_standard", "change the tag standard")
    assert standard.save(con, std, FIONA) == 1
