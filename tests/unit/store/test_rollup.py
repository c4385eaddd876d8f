"""The lines' rollup stays exact through every engine write of cost_line — a load, a second month, a confirmed
re-delivery that supersedes part of the store, its rollback restoring the old rows — and readers fall back to the
lines the moment something writes around it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.ingest.pipeline import ingest_file, rollback_batch
from engine.store import day_rollup, rollup
from tests.unit.redelivery_files import focus_month

_EXPECTED = (f"SELECT {', '.join(rollup.KEYS)}, count(*), sum(billed_cost), sum(effective_cost) FROM cost_line "
             "GROUP BY ALL")
_DAY_COLS = ("batch_id, billing_period, provider, sub_account_id, tag_cost_center, tag_application, known, start_day, "
             "day, lines, amount, last_day")
_DAYS = ("SELECT batch_id, billing_period, provider, sub_account_id, tag_cost_center, tag_application, known, "
         "start_day, day, sum(lines), sum(amount), max(last_day) FROM {src} GROUP BY ALL")


def _same(con: duckdb.DuckDBPyConnection) -> None:
    """The maintained rollup is, row for row, what summing the lines now gives."""
    kept = con.sql(f"SELECT {', '.join(rollup.KEYS)}, lines, billed_cost, effective_cost FROM line_rollup").fetchall()
    assert sorted(kept, key=repr) == sorted(con.sql(_EXPECTED).fetchall(), key=repr)
    assert rollup.current(con)
    days = con.sql(_DAYS.format(src="day_rollup")).fetchall()    # and the forecast's daily one, recomputed in full
    full = " UNION ALL ".join(f"({part.format(also='')})" for part in day_rollup._PARTS)
    assert sorted(days, key=repr) == sorted(con.sql(_DAYS.format(src=f"({full}) t({_DAY_COLS})")).fetchall(), key=repr)
    assert day_rollup.current(con)


def test_the_rollup_follows_loads_redeliveries_and_rollbacks(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _same(con)                                                         # an empty store: an empty rollup
    first = ingest_file(con, focus_month(tmp_path / "full.csv", 1000), isolate=False, user="fiona")
    assert first.status == "loaded"
    _same(con)
    assert con.sql("SELECT sum(lines) FROM line_rollup").fetchall()[0][0] == 1000
    assert con.sql("SELECT count(*) FROM line_rollup").fetchall()[0][0] < 1000   # sums, not lines
    short = ingest_file(con, focus_month(tmp_path / "short.csv", 20, scale="2"), isolate=False, replace=True,
                        user="fiona")
    assert short.status == "loaded" and short.replaced == [first.batch_id]
    _same(con)
    assert {r[0] for r in con.sql("SELECT DISTINCT batch_id FROM line_rollup").fetchall()} == {short.batch_id}
    rollback_batch(con, short.batch_id or "", "fiona", "wrong file")
    _same(con)
    assert con.sql("SELECT sum(lines) FROM line_rollup").fetchall()[0][0] == 1000


def test_lines_written_around_the_engine_make_readers_use_the_lines(con: duckdb.DuckDBPyConnection,
                                                                   tmp_path: Path) -> None:
    assert ingest_file(con, focus_month(tmp_path / "full.csv", 50), isolate=False, user="fiona").status == "loaded"
    assert rollup.lines_source(con) == rollup.AS_LINES
    con.execute("INSERT INTO cost_line (billing_period, provider, billed_cost, effective_cost, billing_currency, "
                "batch_id) VALUES ('2024-09', 'AWS', 5, 5, 'USD', 'by-hand')")
    assert not rollup.current(con) and rollup.lines_source(con) == "cost_line"
    assert not day_rollup.current(con)
    rollup.rebuild(con)
    _same(con)
