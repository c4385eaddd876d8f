"""GL mapping changes: finops and admin only, validated, and each one in the audit trail with before and after."""

from __future__ import annotations

import json

import duckdb
import pytest

from engine.access.users import get_user
from engine.errors import AccessDenied, InputError
from engine.outputs.journals import mapping
from engine.store import audit


def test_defaults_cover_the_demo_rule_set(demo_con: duckdb.DuckDBPyConnection) -> None:
    pools = {r[0] for r in demo_con.execute(
        "SELECT DISTINCT source_pool FROM allocation_result WHERE target_kind <> 'unallocated'").fetchall()}
    m = mapping.load(demo_con)
    assert pools <= set(m) and mapping.DEPRECIATION in m
    assert m["network"].credit_cost_center == "CC035" and m["tagged"].credit_cost_center is None
    assert m[mapping.DEPRECIATION].classification == "capex"


def test_a_change_is_audited_with_before_and_after(demo_con: duckdb.DuckDBPyConnection) -> None:
    fiona = get_user(demo_con, "fiona")
    before = mapping.load(demo_con)["network"]
    after = mapping.set_mapping(demo_con, fiona, pool="network", debit_account="6425", credit_account="6490",
                                credit_cost_center="CC035", description="IT recharge: network (WAN)")
    assert mapping.load(demo_con)["network"] == after
    seq, actor, action, entity_id, detail = demo_con.execute(
        "SELECT seq, actor, action, entity_id, detail FROM audit_event WHERE action LIKE 'gl_mapping.%'"
        " ORDER BY seq DESC LIMIT 1").fetchall()[0]
    assert (actor, action, entity_id) == ("fiona", "gl_mapping.set", "network")
    body = json.loads(detail) if isinstance(detail, str) else detail
    assert body["before"]["debit_account"] == before.debit_account == "6420"
    assert body["after"]["debit_account"] == "6425"
    mapping.remove(demo_con, fiona, "network")
    assert "network" not in mapping.load(demo_con)
    assert demo_con.execute("SELECT action FROM audit_event WHERE seq > ? ORDER BY seq", [seq]).fetchall() == [
        ("gl_mapping.remove",)]
    assert audit.verify(demo_con).ok


def test_only_finops_and_admin_may_change_it(demo_con: duckdb.DuckDBPyConnection) -> None:
    count = demo_con.execute("SELECT count(*) FROM audit_event").fetchall()[0][0]
    for name in ("omar", "eve", "audrey"):
        with pytest.raises(AccessDenied, match="cannot change the GL mapping"):
            mapping.set_mapping(demo_con, get_user(demo_con, name), pool="network", debit_account="1",
                                credit_account="2", description="x")
    assert demo_con.execute("SELECT count(*) FROM audit_event").fetchall()[0][0] == count
    assert mapping.load(demo_con)["network"].debit_account == "6420"


def test_bad_input_is_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    admin = get_user(demo_con, "admin")
    with pytest.raises(InputError, match="debit_account"):
        mapping.set_mapping(demo_con, admin, pool="network", debit_account="64 20", credit_account="6490",
                            description="x")
    with pytest.raises(InputError, match="'CC999' is not a cost centre"):
        mapping.set_mapping(demo_con, admin, pool="network", debit_account="6420", credit_account="6490",
                            credit_cost_center="CC999", description="x")
