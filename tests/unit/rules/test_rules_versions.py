"""Rule versions: immutable once submitted, four eyes, rollback as a new version, as-of lookup, audited."""

from __future__ import annotations

import duckdb
import pytest

from engine.rules import model, versions
from engine.rules.versions import VersionError
from engine.store import audit
from tests.conftest import add_users


def _rs(pct: int) -> model.RuleSet:
    return model.from_data({"name": "it", "steps": [
        {"id": "a", "name": "A", "method": {"kind": "fixed", "split": {"X": pct, "Y": 100 - pct}}}]})


def test_lifecycle_four_eyes_and_immutability(con: duckdb.DuckDBPyConnection) -> None:
    add_users(con, "finops", "alice", "bob")
    v1 = versions.create_draft(con, _rs(50), "alice", "first cut", "2026-01")
    versions.update_draft(con, "it", v1, _rs(60), "alice")
    versions.submit(con, "it", v1, "alice")
    with pytest.raises(VersionError, match="immutable"):
        versions.update_draft(con, "it", v1, _rs(70), "alice")
    with pytest.raises(VersionError, match="cannot also approve"):
        versions.approve(con, "it", v1, "alice")
    versions.approve(con, "it", v1, "bob")
    got = versions.get(con, "it", v1)
    assert (got.status, got.author, got.approver) == ("approved", "alice", "bob")
    assert got.rule_set.steps[0].method.split == {"X": 60, "Y": 40}
    actions = [r[0] for r in con.sql("SELECT action FROM audit_event ORDER BY seq").fetchall()]
    assert actions == ["rule.draft", "rule.edit", "rule.submit", "rule.approve"]
    assert audit.verify(con).ok


def test_as_of_and_rollback(con: duckdb.DuckDBPyConnection) -> None:
    add_users(con, "finops", "alice", "bob", "carol", "dave")
    v1 = versions.publish(con, _rs(50), "alice", "bob", "initial", "2026-01")
    v2 = versions.publish(con, _rs(80), "alice", "bob", "new split from March", "2026-03")
    assert versions.as_of(con, "it", "2026-02").version == v1
    assert versions.as_of(con, "it", "2026-03").version == v2
    with pytest.raises(VersionError, match="no approved version"):
        versions.as_of(con, "it", "2025-12")
    v3 = versions.rollback(con, "it", v1, "carol", "March split disputed", "2026-04")
    r3 = versions.get(con, "it", v3)
    assert (r3.status, r3.parent_version, r3.body_hash) == ("pending", v2, versions.get(con, "it", v1).body_hash)
    assert versions.as_of(con, "it", "2026-04").version == v2  # not in force until approved
    versions.reject(con, "it", v3, "dave", "keep March split")
    assert versions.get(con, "it", v3).status == "rejected"
    assert [v.version for v in versions.list_versions(con, "it")] == [1, 2, 3]


# ---- rollback effective month, approval comment ----------------------------------------------------------------

def _post_split(con: duckdb.DuckDBPyConnection, period: str) -> None:
    """A real month close of rule set `it` (an X/Y split of one cost line) for `period`."""
    from engine.allocation.runs import run_allocation
    from tests.unit.allocation_data import add_lines

    add_lines(con, [{"tag_cost_center": "X", "effective_cost": 100}], period=period)
    run_allocation(con, period, "it", actor="alice")


def test_rollback_takes_the_first_open_month_not_the_old_effective_month(con: duckdb.DuckDBPyConnection) -> None:
    add_users(con, "finops", "alice", "bob", "carol")
    v1 = versions.publish(con, _rs(50), "alice", "bob", "initial", "2025-11")
    versions.publish(con, _rs(80), "alice", "bob", "new split", "2026-03")
    for period in ("2026-03", "2026-04"):
        _post_split(con, period)
    assert versions.latest_posted_period(con) == "2026-04"
    assert versions.first_open_period(con) == "2026-05"
    v3 = versions.rollback(con, "it", v1, "carol", "80/20 disputed")
    assert versions.get(con, "it", v3).effective_from == "2026-05"   # not v1's 2025-11
    detail = con.sql("SELECT detail->>'effective_from', detail->>'restates' FROM audit_event"
                     " WHERE action = 'rule.rollback'").fetchall()
    assert detail == [("2026-05", "false")]


def test_rollback_before_the_latest_posted_month_needs_an_explicit_restatement(
        con: duckdb.DuckDBPyConnection) -> None:
    add_users(con, "finops", "alice", "bob", "carol")
    v1 = versions.publish(con, _rs(50), "alice", "bob", "initial", "2026-01")
    versions.publish(con, _rs(80), "alice", "bob", "new split", "2026-02")
    _post_split(con, "2026-03")
    with pytest.raises(VersionError, match="would restate closed months up to 2026-03"):
        versions.rollback(con, "it", v1, "carol", "back to 50/50", "2026-02")
    assert [v.version for v in versions.list_versions(con, "it")] == [1, 2]   # nothing written
    v3 = versions.rollback(con, "it", v1, "carol", "re-post March", "2026-03")  # the latest posted month itself
    v4 = versions.rollback(con, "it", v1, "carol", "restate February", "2026-02", allow_restatement=True)
    assert [versions.get(con, "it", v).effective_from for v in (v3, v4)] == ["2026-03", "2026-02"]
    with pytest.raises(VersionError, match="YYYY-MM"):
        versions.rollback(con, "it", v1, "carol", "bad month", "March")


def test_without_posted_months_a_rollback_takes_the_current_month(con: duckdb.DuckDBPyConnection) -> None:
    from datetime import date

    add_users(con, "finops", "alice", "bob", "carol")
    v1 = versions.publish(con, _rs(50), "alice", "bob", "initial", "2025-11")
    versions.publish(con, _rs(80), "alice", "bob", "new split", "2026-03")
    assert versions.latest_posted_period(con) is None
    assert versions.first_open_period(con, today=date(2026, 12, 1)) == "2026-12"
    v3 = versions.rollback(con, "it", v1, "carol", "undo", today=date(2026, 12, 1))
    assert versions.get(con, "it", v3).effective_from == "2026-12"


def test_the_approval_comment_is_kept_on_the_version_and_in_the_trail(con: duckdb.DuckDBPyConnection) -> None:
    add_users(con, "finops", "alice", "bob")
    v1 = versions.create_draft(con, _rs(50), "alice", "first cut", "2026-01")
    versions.submit(con, "it", v1, "alice")
    versions.approve(con, "it", v1, "bob", "  BU impact checked: Retail +1.2k  ")
    got = versions.get(con, "it", v1)
    assert (got.status, got.approver, got.approval_comment) == ("approved", "bob", "BU impact checked: Retail +1.2k")
    assert got.reason == "first cut"   # the author's reason is untouched
    assert con.sql("SELECT detail->>'reason' FROM audit_event WHERE action = 'rule.approve'").fetchall() == [
        ("BU impact checked: Retail +1.2k",)]
    v2 = versions.create_draft(con, _rs(70), "alice", "second cut", "2026-02")
    versions.submit(con, "it", v2, "alice")
    versions.reject(con, "it", v2, "bob", "no driver data for 70/30")
    assert versions.get(con, "it", v2).approval_comment == "no driver data for 70/30"
    assert audit.verify(con).ok
