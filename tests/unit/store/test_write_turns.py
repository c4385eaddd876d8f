"""Writers of one process take turns (engine/store.transaction, docs/architecture.md "Jobs while the app runs"): a
write waits for the one in progress and then runs; one that would wait longer than WRITE_WAIT_S is refused with a
plain message, writes nothing, and leaves the store usable. Readers never wait."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from engine import store
from engine.errors import ApportionError


def _org(con: duckdb.DuckDBPyConnection, unit: str) -> None:
    con.execute("INSERT INTO org_unit VALUES (?, ?, 'business_unit', NULL, NULL)", [unit, unit])


def test_a_write_waits_for_the_one_in_progress(con: duckdb.DuckDBPyConnection) -> None:
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def long_write(cursor: duckdb.DuckDBPyConnection) -> None:
        with store.transaction(cursor):
            _org(cursor, "BU1")
            inside.set()
            release.wait(30)
            order.append("first committed")

    first = threading.Thread(target=long_write, args=(con.cursor(),))
    first.start()
    assert inside.wait(30)
    second_done = threading.Event()

    def second(cursor: duckdb.DuckDBPyConnection) -> None:
        with store.transaction(cursor):
            _org(cursor, "BU2")
        order.append("second committed")
        second_done.set()

    t2 = threading.Thread(target=second, args=(con.cursor(),))
    t2.start()
    # the second writer is waiting, not failing; a reader is not held up meanwhile
    assert not second_done.wait(0.5)
    assert con.cursor().sql("SELECT count(*) FROM org_unit WHERE unit_id IN ('BU1', 'BU2')").fetchall() == [(0,)]
    release.set()
    first.join(30)
    t2.join(30)
    assert order == ["first committed", "second committed"]
    assert con.sql("SELECT unit_id FROM org_unit WHERE unit_id IN ('BU1', 'BU2') ORDER BY 1").fetchall() == [
        ("BU1",), ("BU2",)]


def test_a_write_that_would_wait_too_long_is_refused_and_writes_nothing(con: duckdb.DuckDBPyConnection,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "WRITE_WAIT_S", 0.3)
    inside, release = threading.Event(), threading.Event()

    def long_write(cursor: duckdb.DuckDBPyConnection) -> None:
        with store.transaction(cursor):
            _org(cursor, "BU1")
            inside.set()
            release.wait(30)

    first = threading.Thread(target=long_write, args=(con.cursor(),))
    first.start()
    assert inside.wait(30)
    started = time.monotonic()
    with pytest.raises(ApportionError, match="Another change has been writing to the store for 0 seconds"):
        with store.transaction(con.cursor()) as cursor:
            _org(cursor, "BU2")
    assert time.monotonic() - started >= 0.3
    release.set()
    first.join(30)
    # the refused write left nothing; the lock is free again for the next one
    assert con.sql("SELECT unit_id FROM org_unit WHERE unit_id IN ('BU1', 'BU2')").fetchall() == [("BU1",)]
    with store.transaction(con):
        _org(con, "BU3")
    assert con.sql("SELECT count(*) FROM org_unit WHERE unit_id = 'BU3'").fetchall() == [(1,)]
