"""The Audit trail page on a copy of the demo store: it lists every break after tampering, filters, exports."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.outputs import audit_export
from engine.store import audit
from tests.app.conftest import page_as


@pytest.fixture
def audit_db(demo_db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of the demo store with its head file, which the page reads."""
    path = tmp_path / "audit_page.duckdb"
    shutil.copy(demo_db_path, path)
    shutil.copy(audit.head_path(demo_db_path), audit.head_path(path))
    monkeypatch.setenv("APPORTION_DB_PATH", str(path))
    yield path


def _sql(path: Path, q: str) -> list[tuple[object, ...]]:
    con = store.connect(path)
    try:
        return con.execute(q).fetchall()
    finally:
        con.close()


def _verify(path: Path) -> audit.VerifyResult:
    con = store.connect(path)
    try:
        return audit.verify(con)
    finally:
        con.close()


def test_an_intact_trail_says_so(audit_db: Path) -> None:
    at = page_as("audit_trail", "audrey").run()
    assert not at.exception
    n = _sql(audit_db, "SELECT count(*) FROM audit_event")[0][0]
    assert [s.value for s in at.success] == [f"Chain intact: {n} events verified, none changed or removed."]
    assert not at.error
    assert len(at.dataframe[-1].value) == n


def test_the_page_lists_every_break_after_tampering(audit_db: Path) -> None:
    at = page_as("audit_trail", "audrey")  # signing in is audited: before the tampering, like a real session
    n = int(_sql(audit_db, "SELECT count(*) FROM audit_event")[0][0])  # type: ignore[call-overload]
    assert n >= 5
    con = duckdb.connect(str(audit_db))  # somebody holding the file, with plain SQL
    con.execute("UPDATE audit_event SET actor = 'someone else' WHERE seq = 1")
    con.execute("UPDATE audit_event SET event_at = event_at - INTERVAL 1 DAY WHERE seq = 3")
    con.execute(f"DELETE FROM audit_event WHERE seq > {n - 2}")
    con.close()
    expected = _verify(audit_db)
    assert [(p.seq, p.kind) for p in expected.problems] == [(1, "changed"), (3, "timestamp edited"),
                                                            (n, "truncated")]

    at.run()
    assert not at.exception and not at.success
    assert [e.value for e in at.error] == [f"Audit chain broken: 3 problems found in {n - 2} events."]
    problems = at.dataframe[0].value
    assert problems["event"].tolist() == [1, 3, n]
    assert problems["kind"].tolist() == ["changed", "timestamp edited", "truncated"]
    assert problems["what was found"].tolist() == [p.message for p in expected.problems]
    assert at.code[0].value.splitlines() == expected.lines()  # the same text as the CLI prints


def test_filters_narrow_the_events_and_the_export_is_offered(audit_db: Path) -> None:
    at = page_as("audit_trail", "fiona").run()
    assert not at.exception
    everything = at.dataframe[-1].value
    at.multiselect(key="audit_action").select("rule.approve").run()
    approvals = at.dataframe[-1].value
    assert len(approvals) == int((everything["action"] == "rule.approve").sum()) > 0
    assert set(approvals["action"]) == {"rule.approve"}
    at.multiselect(key="audit_action").unselect("rule.approve").run()
    at.multiselect(key="audit_actor").select("admin").run()
    assert set(at.dataframe[-1].value["actor"]) == {"admin"}
    at.multiselect(key="audit_actor").unselect("admin").run()
    first = at.date_input(key="audit_period").value[0]
    at.date_input(key="audit_period").set_value((first, first)).run()
    days = {d.date() for d in at.dataframe[-1].value["event_at"]}
    assert days == {first}
    assert len(at.get("download_button")) == 2
    con = store.connect(audit_db)
    try:
        rows = list(csv.reader(io.StringIO(audit_export.export_csv(con).decode(), newline="")))
    finally:
        con.close()
    assert len(rows) - 1 == len(everything)


def test_roles_without_the_page_are_turned_away(audit_db: Path) -> None:
    at = page_as("audit_trail", "omar").run()
    assert not at.dataframe and not at.success
