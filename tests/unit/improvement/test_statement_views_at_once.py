"""An app owner with the statement open in several tabs at once (the room of issue 19 found it: four sessions of the
same owner opening the same statement together): every tab shows the statement, the first view is recorded once
and audited once. DuckDB's optimistic concurrency lets both inserts run and fails the second COMMIT."""

from __future__ import annotations

import threading

import duckdb

from engine.improvement import kpis
from tests.unit.improvement.helpers import JAN, setup, user

TABS = 6
ROUNDS = 12


def test_tabs_opening_one_statement_together_record_one_first_view(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    omar = user(con, "omar")
    results: list[bool] = []
    errors: list[BaseException] = []
    for r in range(ROUNDS):
        period = f"2025-{r + 1:02d}" if r else JAN
        barrier = threading.Barrier(TABS)

        def tab(cursor: duckdb.DuckDBPyConnection, period: str = period, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                results.append(kpis.record_view(cursor, omar, period, "A"))
            except BaseException as exc:  # noqa: BLE001 - what the page would have shown
                errors.append(exc)

        threads = [threading.Thread(target=tab, args=(con.cursor(),)) for _ in range(TABS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert results.count(True) == ROUNDS and len(results) == ROUNDS * TABS
    assert con.execute("SELECT count(*) FROM statement_view WHERE username = 'omar'").fetchall() == [(ROUNDS,)]
    assert con.execute("SELECT count(*) FROM audit_event WHERE action = 'statement.view'").fetchall() == [(ROUNDS,)]
