"""Why an allocated charge moved: crafted month-over-month cases on a real DuckDB store, posted by the real month
close, decomposed by re-running the real cascade — each case's change lands in its own part, to the cent."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine.access.users import get_user
from engine.allocation.pools import Org, load_org
from engine.allocation.runs import run_allocation
from engine.errors import AccessDenied
from engine.insights.anomalies import decompose, workflow
from engine.insights.anomalies.allocation_change import RULE, scan_allocation
from engine.insights.anomalies.spend_split import split_parts
from engine.rules import model, versions
from tests.conftest import add_users
from tests.unit.allocation_data import add_driver, add_lines, add_org

BEFORE, AFTER = "2026-01", "2026-02"
NAME = "dec"
D = Decimal


def _rules(shared: dict[str, object]) -> model.RuleSet:
    """A shared database pool spread by a method, then tagged spend direct to its cost centre."""
    return model.from_data({"name": NAME, "steps": [
        {"id": "shared", "name": "Shared database", "source": {"filters": [
            {"field": "tag_application", "value": "SHR"}]}, "method": shared},
        {"id": "tagged", "name": "Tagged spend", "method": {"kind": "direct", "fallback": ["tag"]}},
    ]})


BY_HEADCOUNT = {"kind": "driver", "driver": "headcount"}
BY_REVENUE = {"kind": "driver", "driver": "revenue"}


def _line(resource: str, qty: float | None, cost: str, **extra: object) -> dict[str, object]:
    return {"resource_id": resource, "sku_id": "sku-" + resource, "service_name": "Compute", "charge_category": "Usage",
            "consumed_quantity": qty, "consumed_unit": "Hours" if qty is not None else None, "effective_cost": cost,
            **extra}


def _month(con: duckdb.DuckDBPyConnection, period: str, *, vm_a: tuple[float, str] = (2000, "4000"),
           headcount: dict[str, float] | None = None, extra: list[dict[str, object]] | None = None,
           vm_b: bool = True) -> None:
    lines = [_line("db-1", 1000, "10000", tag_application="SHR"),
             _line("vm-a", vm_a[0], vm_a[1], tag_cost_center="A")]
    if vm_b:
        lines.append(_line("vm-b", 1000, "2000", tag_cost_center="B"))
    add_lines(con, lines + (extra or []), period=period)
    add_driver(con, "headcount", headcount or {"A": 1, "B": 2}, period=period)
    add_driver(con, "revenue", {"A": 3, "B": 1}, period=period)


def _store(con: duckdb.DuckDBPyConnection, after_rules: model.RuleSet | None = None) -> None:
    add_org(con, {"A": "BU1", "B": "BU1"}, ["BU1", "BU2"])
    add_users(con, "finops", "fiona", "bob")
    versions.publish(con, _rules(BY_HEADCOUNT), "fiona", "bob", "headcount", BEFORE)
    if after_rules is not None:
        versions.publish(con, after_rules, "fiona", "bob", "revenue from February", AFTER)


def _close(con: duckdb.DuckDBPyConnection) -> None:
    for period in (BEFORE, AFTER):
        run_allocation(con, period, NAME, actor="fiona")


def _posted(con: duckdb.DuckDBPyConnection, period: str, cc: str) -> int:
    """The cost centre's posted charge in cents, read from the latest posted run as month close wrote it."""
    key = con.execute("SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted' "
                      "ORDER BY finished_at DESC LIMIT 1", [period]).fetchall()[0][0]
    value = con.execute("SELECT coalesce(sum(posted_amount), 0) FROM allocation_result WHERE run_key = ? "
                        "AND cost_center_id = ?", [key, cc]).fetchall()[0][0]
    return int(Decimal(value) * 100)


def _only(parts: dict[str, int], name: str) -> dict[str, int]:
    return {p: (parts[name] if p == name else 0) for p in decompose.PARTS}


def test_usage_up_is_all_usage(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    _month(con, BEFORE)
    _month(con, AFTER, vm_a=(6000, "12000"))          # A's VM ran three times the hours at the same $2/hour
    _close(con)
    change = _posted(con, AFTER, "A") - _posted(con, BEFORE, "A")
    assert change == 800_000                          # +$8,000.00: 4,000 more hours at $2
    d = decompose.decompose(con, "cost_center", "A", AFTER)
    assert d.parts == _only(d.parts, "usage") and d.parts["usage"] == change
    assert sum(d.parts.values()) == d.split.change == change
    assert d.split.sentence() == "All usage: +$8,000.00 of +$8,000.00, 2026-02 against 2026-01."
    # B did not move, and nothing of A's move leaks into it
    b = decompose.decompose(con, "cost_center", "B", AFTER)
    assert b.split.change == 0 and set(b.parts.values()) == {0}


def test_a_driver_moved_is_all_drivers(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    _month(con, BEFORE)
    _month(con, AFTER, headcount={"A": 2, "B": 2})   # A's share of the shared database: 1/3 → 1/2
    _close(con)
    change = _posted(con, AFTER, "A") - _posted(con, BEFORE, "A")
    assert change == 500_000 - 333_333                # $5,000.00 − $3,333.33
    d = decompose.decompose(con, "cost_center", "A", AFTER)
    assert d.parts == _only(d.parts, "drivers") and d.parts["drivers"] == change
    b = decompose.decompose(con, "cost_center", "B", AFTER)
    assert b.parts == _only(b.parts, "drivers") and b.parts["drivers"] == -change == \
        _posted(con, AFTER, "B") - _posted(con, BEFORE, "B")


def test_a_rule_changed_is_all_rule(con: duckdb.DuckDBPyConnection) -> None:
    _store(con, after_rules=_rules(BY_REVENUE))      # v2 from February: the shared pool by revenue (A 3 : B 1)
    _month(con, BEFORE)
    _month(con, AFTER)
    _close(con)
    runs = con.execute("SELECT period, rule_version FROM allocation_run ORDER BY period").fetchall()
    assert runs == [(BEFORE, 1), (AFTER, 2)]
    change = _posted(con, AFTER, "A") - _posted(con, BEFORE, "A")
    assert change == 750_000 - 333_333                # $7,500.00 − $3,333.33
    d = decompose.decompose(con, "cost_center", "A", AFTER)
    assert d.parts == _only(d.parts, "rule") and d.parts["rule"] == change
    assert (d.before.rule_version, d.after.rule_version) == (1, 2)


def test_everything_moving_at_once_still_sums_to_the_cent(con: duckdb.DuckDBPyConnection) -> None:
    _store(con, after_rules=_rules(BY_REVENUE))
    tax = {"resource_id": None, "sku_id": None, "service_name": "Tax", "charge_category": "Tax",
           "tag_cost_center": "A"}
    _month(con, BEFORE, extra=[{**tax, "effective_cost": "100.004"}])
    _month(con, AFTER, vm_a=(3000, "9000"), headcount={"A": 7, "B": 3}, vm_b=False,
           extra=[{**tax, "effective_cost": "150.013"}, _line("vm-a2", 10, "500.017", tag_cost_center="A")])
    _close(con)
    for cc in ("A", "B"):
        d = decompose.decompose(con, "cost_center", cc, AFTER)
        assert sum(d.parts.values()) == d.split.change == _posted(con, AFTER, cc) - _posted(con, BEFORE, cc)
        assert d.parts["restated"] == 0 and d.parts["master_data"] == 0
        assert (d.states[0], d.states[-1]) == (d.posted_before, d.posted_after)
    a = decompose.decompose(con, "cost_center", "A", AFTER)
    # A's own lines: 1,000 more hours at the old $2 plus a new VM ($500.017) is usage; $1 more an hour on 3,000
    # hours plus the tax that has no quantity ($100.004 → $150.013) is rate
    assert abs(a.parts["usage"] - (200_000 + 50_002)) <= 1
    assert abs(a.parts["rate"] - (300_000 + 5_001)) <= 1
    assert a.parts["drivers"] != 0 and a.parts["rule"] != 0
    b = decompose.decompose(con, "cost_center", "B", AFTER)
    assert b.parts["usage"] == -200_000 and b.parts["rate"] == 0      # B's VM vanished: −$2,000 of usage


def test_an_as_of_org_plugs_in_as_master_data(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    _month(con, BEFORE)
    _month(con, AFTER)
    _close(con)

    def org_of(c: duckdb.DuckDBPyConnection, period: str) -> Org:   # B moves to BU2 in February
        org = load_org(c)
        return org if period == BEFORE else Org(kind=org.kind, parent={**org.parent, "B": "BU2"}, app_cc=org.app_cc)

    d = decompose.decompose(con, "business_unit", "BU1", AFTER, org_of=org_of)
    assert d.parts == _only(d.parts, "master_data") and d.parts["master_data"] == -_posted(con, AFTER, "B")
    assert decompose.decompose(con, "business_unit", "BU1", AFTER).split.change == 0   # today's org: no move


def test_the_close_flags_the_cost_centre_and_explains_it(con: duckdb.DuckDBPyConnection) -> None:
    _store(con)
    add_org(con, {"C": "BU2"})
    con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES "
                "('bea', 'Bea', 'app_owner', 'x')")
    con.execute("INSERT INTO user_scope VALUES ('bea', 'B')")
    _month(con, BEFORE)
    _month(con, AFTER, vm_a=(6000, "12000"))
    _close(con)                                       # run_allocation → detect_after_close → allocation_change
    flagged = scan_allocation(con, AFTER)
    assert flagged["scope_id"].to_list() == ["A"] and flagged["excess"].to_list() == [D("8000.00")]
    rows = con.execute("SELECT anomaly_id, cost_center_id, excess, period FROM anomaly WHERE rule = ?",
                       [RULE]).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [("A", D("8000.00"), AFTER)]
    aid = rows[0][0]
    d = decompose.for_anomaly(con, get_user(con, "fiona"), aid)
    assert d.parts["usage"] == 800_000 and d.split.main == "usage"
    assert workflow.span_text(RULE, *con.execute("SELECT first_date, last_date FROM anomaly WHERE anomaly_id = ?",
                                                 [aid]).fetchall()[0]) == AFTER
    with pytest.raises(AccessDenied):                # an app owner of B sees nothing of A's flag
        decompose.for_anomaly(con, get_user(con, "bea"), aid)
    assert scan_allocation(con, AFTER, threshold=2.0).is_empty()      # +109 % is under a +200 % threshold


def test_spend_parts_by_line_class() -> None:
    keys = [
        (D(100), D(50), 1, D(300), D(100), 2),    # twice the hours, $2 → $3: usage +100, rate +100
        (D(10), D(0), 1, D(15), D(0), 1),         # a fee without quantity: rate +5
        (D(0), D(0), 0, D(40), D(4), 1),          # new
        (D(25), D(5), 2, D(0), D(0), 0),          # vanished
    ]
    assert split_parts(keys) == {"usage": D(100), "rate": D(105), "new_lines": D(40), "vanished_lines": D(-25)}
