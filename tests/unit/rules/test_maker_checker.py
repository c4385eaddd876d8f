"""Maker-checker in the engine: whatever a page offers, `versions.approve` and `versions.reject` refuse the author
in any spelling, anyone who edited the body, roles without the approving right, unknown users and nobody."""

from __future__ import annotations

import json

import duckdb
import pytest

from engine.errors import AccessDenied, InputError
from engine.rules import model, versions
from engine.rules.versions import VersionError
from engine.store import audit

USERS = [("fiona", "finops"), ("frank", "finops"), ("admin", "admin"), ("eve", "executive"),
         ("omar", "app_owner"), ("audrey", "auditor")]
FIONA_SPELLINGS = ["fiona", "Fiona", "fiona ", " FIONA", "FIONA", "fi\u200bona", "\u200bfiona", "fiona\u200b",
                   "ｆｉｏｎａ", "Ｆｉｏｎａ", "fio\u00adna", "fiona\ufeff", "\u00a0fiona\u00a0", "fi\u2060ona",
                   "fiona\u034f", "fiona\t"]


def _rs(pct: int) -> model.RuleSet:
    return model.from_data({"name": "it", "steps": [
        {"id": "a", "name": "A", "method": {"kind": "fixed", "split": {"X": pct, "Y": 100 - pct}}}]})


@pytest.fixture
def pending(con: duckdb.DuckDBPyConnection) -> int:
    """Users of every role, and a version Fiona wrote and submitted."""
    for username, role in USERS:
        con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES (?, ?, ?, 'x')",
                    [username, username.title(), role])
    v = versions.create_draft(con, _rs(50), "fiona", "first cut", "2026-01")
    versions.update_draft(con, "it", v, _rs(60), "Fiona")  # the author herself: not an editor
    versions.submit(con, "it", v, "fiona")
    return v


def _events(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM audit_event").fetchall()[0][0])


def _unchanged(con: duckdb.DuckDBPyConnection, v: int, events: int) -> None:
    got = versions.get(con, "it", v)
    assert (got.status, got.approver) == ("pending", None) and _events(con) == events


@pytest.mark.parametrize("who", FIONA_SPELLINGS)
def test_the_author_cannot_approve_or_reject_in_any_spelling(con: duckdb.DuckDBPyConnection, pending: int,
                                                             who: str) -> None:
    before = _events(con)
    assert versions.get(con, "it", pending).editors == ()
    with pytest.raises(VersionError, match="wrote it v1 and cannot also approve it"):
        versions.approve(con, "it", pending, who)
    with pytest.raises(VersionError, match="wrote it v1 and cannot also reject it"):
        versions.reject(con, "it", pending, who, "no")
    _unchanged(con, pending, before)


def test_an_editor_of_the_body_cannot_approve_or_reject(con: duckdb.DuckDBPyConnection) -> None:
    for username, role in USERS:
        con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES (?, ?, ?, 'x')",
                    [username, username.title(), role])
    v = versions.create_draft(con, _rs(50), "fiona", "first cut", "2026-01")
    versions.update_draft(con, "it", v, _rs(70), "ADMIN ")  # an admin edits someone's draft…
    versions.submit(con, "it", v, "admin")                   # …submits it…
    assert versions.get(con, "it", v).editors == ("admin",)
    before = _events(con)
    for who in ("admin", "Admin", "ad\u200bmin", "ａｄｍｉｎ"):   # …and may not approve the body he wrote
        with pytest.raises(VersionError, match="edited it v1 and cannot also approve it"):
            versions.approve(con, "it", v, who)
        with pytest.raises(VersionError, match="edited it v1 and cannot also reject it"):
            versions.reject(con, "it", v, who, "mine")
    _unchanged(con, v, before)
    # A version from before the editors column: its editors still come from the audit trail.
    con.execute("UPDATE rule_set SET editors = NULL WHERE name = 'it' AND version = ?", [v])
    assert versions.get(con, "it", v).editors == ()
    with pytest.raises(VersionError, match="edited it v1"):
        versions.approve(con, "it", v, "admin")
    versions.approve(con, "it", v, "frank")
    assert versions.get(con, "it", v).status == "approved"


@pytest.mark.parametrize("who", ["eve", "omar", "audrey", "Audrey "])
def test_roles_without_the_approving_right_are_refused(con: duckdb.DuckDBPyConnection, pending: int,
                                                       who: str) -> None:
    before = _events(con)
    with pytest.raises(AccessDenied, match=r"cannot approve it v1"):
        versions.approve(con, "it", pending, who)
    with pytest.raises(AccessDenied, match=r"cannot reject it v1"):
        versions.reject(con, "it", pending, who, "no")
    _unchanged(con, pending, before)


@pytest.mark.parametrize(("who", "error", "message"), [
    ("mallory", AccessDenied, "'mallory' is not a user of this store"),
    ("fiona2", AccessDenied, "not a user of this store"),
    ("fr ank", AccessDenied, "not a user of this store"),
    ("", InputError, "no approver given"),
    ("   ", InputError, "no approver given"),
    ("\u200b\u200d", InputError, "no approver given"),
])
def test_unknown_and_empty_approvers_are_refused(con: duckdb.DuckDBPyConnection, pending: int, who: str,
                                                 error: type[Exception], message: str) -> None:
    before = _events(con)
    with pytest.raises(error, match=message):
        versions.approve(con, "it", pending, who)
    with pytest.raises(error, match=message):
        versions.reject(con, "it", pending, who, "no")
    _unchanged(con, pending, before)


def test_a_valid_approver_works_and_the_reason_is_recorded(con: duckdb.DuckDBPyConnection, pending: int) -> None:
    versions.approve(con, "it", pending, "Frank ", reason="  split agreed with the owners  ")
    got = versions.get(con, "it", pending)
    assert (got.status, got.author, got.approver) == ("approved", "fiona", "frank")
    actor, detail = con.execute("SELECT actor, detail::VARCHAR FROM audit_event WHERE action = 'rule.approve'"
                                ).fetchall()[0]
    event = json.loads(detail)
    assert actor == "frank" and event["reason"] == "split agreed with the owners" and event["makers"] == ["fiona"]
    assert audit.verify(con).ok


def test_approve_without_a_reason_still_works_and_reject_records_its_reason(con: duckdb.DuckDBPyConnection,
                                                                            pending: int) -> None:
    versions.approve(con, "it", pending, "admin")
    assert json.loads(con.execute("SELECT detail::VARCHAR FROM audit_event WHERE action = 'rule.approve'"
                                  ).fetchall()[0][0])["reason"] is None
    v2 = versions.create_draft(con, _rs(80), "frank", "second cut", "2026-02")
    versions.submit(con, "it", v2, "frank")
    versions.reject(con, "it", v2, "FIONA", "keep the old split")
    got = versions.get(con, "it", v2)
    assert (got.status, got.approver) == ("rejected", "fiona")
    assert json.loads(con.execute("SELECT detail::VARCHAR FROM audit_event WHERE action = 'rule.reject'"
                                  ).fetchall()[0][0])["reason"] == "keep the old split"


def test_a_rollback_author_cannot_approve_the_rollback(con: duckdb.DuckDBPyConnection, pending: int) -> None:
    versions.approve(con, "it", pending, "frank")
    v2 = versions.rollback(con, "it", pending, "Admin", "back to the first cut")
    assert versions.get(con, "it", v2).author == "admin"
    with pytest.raises(VersionError, match="wrote it v2"):
        versions.approve(con, "it", v2, "admin")
    versions.approve(con, "it", v2, "fiona")


def test_two_users_with_one_identity_are_refused(con: duckdb.DuckDBPyConnection, pending: int) -> None:
    con.execute("INSERT INTO app_user (username, display_name, role, password_hash) VALUES "
                "('Frank', 'Frank Twin', 'finops', 'x')")
    with pytest.raises(InputError, match="matches several users"):
        versions.approve(con, "it", pending, "frank")


def test_identity_folds_spellings_and_keeps_different_names_apart() -> None:
    assert {versions.identity(s) for s in FIONA_SPELLINGS} == {"fiona"}
    assert versions.identity("fiona") != versions.identity("fíona")
    assert versions.identity("Straße") == versions.identity("STRASSE")
    assert versions.identity(None) == versions.identity("\u200b") == ""
