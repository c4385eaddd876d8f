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
