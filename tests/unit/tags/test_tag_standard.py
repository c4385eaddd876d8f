"""The tag standard is edited by FinOps as versions: parsed from what the editor holds, refused with a reason when it
cannot be used, saved with an audit event, read back by coverage — and only FinOps and admins may change it."""

from __future__ import annotations

import duckdb
import pytest

from engine.access.scope import AccessDenied
from engine.access.users import User
from engine.store import audit
from engine.tags import hygiene as tag_hygiene
from engine.tags import standard as tag_standard
from engine.tags.normalise import TagStandard

FIONA = User("fiona", "Fiona", "finops", None)
AUDREY = User("audrey", "Audrey", "auditor", None)
OMAR = User("omar", "Omar", "app_owner", frozenset({"CC015"}))


def test_parse_normalises_keys_and_values() -> None:
    std = tag_standard.parse(["Cost Center", " application", "cost-center", ""],
                             "Environment: prod, dev, prod\n\n  owner : team-a ,team-b")
    assert std.required == ("cost_center", "application")
    assert std.allowed == {"environment": ("prod", "dev"), "owner": ("team-a", "team-b")}
    assert tag_standard.parse(list(std.required), tag_standard.allowed_text(std)) == std


@pytest.mark.parametrize(("required", "allowed", "why"), [
    (["cost_center"], "environment prod", "line 1: expected 'key: value, value'"),
    (["cost_center"], "environment:", "'environment' needs at least one value"),
    (["cost_center"], "env: a\nEnvironment: b", "line 2: 'environment' is listed twice"),
    ([f"k{i}" for i in range(21)], "", "at most 20 required tags"),
])
def test_parse_refuses_what_cannot_be_used(required: list[str], allowed: str, why: str) -> None:
    with pytest.raises(tag_standard.StandardError, match=why):
        tag_standard.parse(required, allowed)


def test_versions_are_appended_audited_and_read_back(con: duckdb.DuckDBPyConnection) -> None:
    assert tag_standard.current(con) == TagStandard() and tag_standard.current_version(con) == 0
    first = tag_standard.parse(["cost_center"], "environment: prod, dev")
    assert tag_standard.save(con, first, FIONA, "workshop decision") == 1
    assert tag_standard.save(con, first, FIONA) == 1          # unchanged: no new version, no event
    second = tag_standard.parse(["cost_center", "owner"], "")
    assert tag_standard.save(con, second, FIONA) == 2
    now = tag_standard.current(con)
    assert (now.required, now.allowed) == (("cost_center", "owner"), {})
    assert tag_standard.history(con)["version"].to_list() == [2, 1]
    events = con.sql("SELECT actor, entity_id FROM audit_event WHERE action = 'tag_standard_saved' "
                     "ORDER BY seq").fetchall()
    assert events == [("fiona", "1"), ("fiona", "2")]
    assert audit.verify(con).ok


def test_only_finops_and_admins_may_change_it(con: duckdb.DuckDBPyConnection) -> None:
    std = tag_standard.parse(["cost_center"], "")
    for who in (AUDREY, OMAR):
        with pytest.raises(AccessDenied):
            tag_standard.save(con, std, who)
    with pytest.raises(tag_standard.StandardError, match="at least one required tag"):
        tag_standard.save(con, tag_standard.parse([], ""), FIONA)
    assert tag_standard.current_version(con) == 0


def test_hygiene_uses_the_standard_in_force(con: duckdb.DuckDBPyConnection) -> None:
    tag_standard.save(con, tag_standard.parse(["owner"], "owner: team-a"), FIONA)
    std = tag_hygiene.standard_for(con)
    assert std.required == ("owner",) and std.allowed == {"owner": ("team-a",)}
