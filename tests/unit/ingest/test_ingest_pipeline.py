"""The ingest pipeline end to end on a real store: idempotency by content hash, re-delivered months replacing
atomically, rollback with audit, previews, progress, and the child process actually isolating the parent."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.ingest.pipeline import ingest_file, list_batches, quarantine_rows, rollback_batch
from engine.ingest.sandbox import Limits
from engine.store import audit
from tests.conftest import SAMPLES
from tests.fx_rates import seed_test_rates


@pytest.fixture
def con(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The empty store with the test rates: these fixtures are billed in EUR/CAD (tests/fx_rates.py). What the
    file said is compared in the `*_billing` columns; the reporting-currency amounts are tests/unit/fx/'s."""
    seed_test_rates(con)
    return con


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CUR2 = FIXTURES / "aws_cur2_sample.csv"


def _rewrite_cur2(dest: Path, *, scale_first: str | None = None, period: str | None = None) -> Path:
    """A re-delivery of the CUR 2.0 fixture: one cost changed and/or another billing period."""
    rows = list(csv.reader(io.StringIO(CUR2.read_text())))
    header = rows[0]
    cost_i = header.index("line_item_unblended_cost")
    per_i = header.index("bill_billing_period_start_date")
    for r in rows[1:]:
        if period:
            r[per_i] = period
    if scale_first:
        rows[1][cost_i] = scale_first
    with open(dest, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return dest


def _totals(con: duckdb.DuckDBPyConnection) -> tuple[int, Decimal, Decimal]:
    n, b, e = con.sql("SELECT count(*), coalesce(sum(billed_cost), 0), coalesce(sum(effective_cost), 0) "
                      "FROM cost_line").fetchall()[0]
    return int(n), b, e


def test_same_file_twice_is_a_noop_that_says_so(con: duckdb.DuckDBPyConnection) -> None:
    first = ingest_file(con, CUR2, isolate=False, user="alice")
    assert first.status == "loaded" and first.rows_loaded == 12 and first.rows_quarantined == 1
    before = store.table_checksums(con)
    again = ingest_file(con, CUR2, isolate=False, user="bob", file_name="renamed.csv")
    assert again.status == "duplicate" and again.batch_id == first.batch_id
    assert again.messages == [again.messages[0]]
    assert "renamed.csv: already loaded as batch " + str(first.batch_id) in again.messages[0]
    assert "nothing changed" in again.messages[0] and "by alice" in again.messages[0]
    assert store.table_checksums(con) == before


def test_redelivered_month_replaces_the_earlier_batch_atomically(con: duckdb.DuckDBPyConnection,
                                                                  tmp_path: Path) -> None:
    old = ingest_file(con, CUR2, isolate=False)
    assert _totals(con) == (12, Decimal("1629.027"), Decimal("32.858"))
    other_month = ingest_file(con, _rewrite_cur2(tmp_path / "march.csv", period="2025-03-01T00:00:00Z"),
                              isolate=False)
    assert other_month.status == "loaded" and other_month.replaced == []
    assert _totals(con) == (24, Decimal("3258.054"), Decimal("65.716"))
    # February re-delivered with the first usage line corrected from 0.096 to 1.096
    new = ingest_file(con, _rewrite_cur2(tmp_path / "feb_v2.csv", scale_first="1.096"), isolate=False, replace=True)
    assert new.status == "loaded" and new.replaced == [old.batch_id]
    assert any("replaces earlier rows of batch" in m for m in new.messages)
    assert _totals(con) == (24, Decimal("3259.054"), Decimal("66.716"))
    feb = con.sql("SELECT count(*), sum(billed_cost), min(batch_id), max(batch_id) FROM cost_line "
                  "WHERE billing_period = '2025-02'").fetchall()[0]
    assert feb == (12, Decimal("1630.027"), new.batch_id, new.batch_id)
    status = dict(con.sql("SELECT batch_id, status FROM ingest_batch").fetchall())
    assert status == {old.batch_id: "replaced", other_month.batch_id: "loaded", new.batch_id: "loaded"}
    assert con.sql("SELECT replaced_by FROM ingest_batch WHERE batch_id = ?", params=[old.batch_id]).fetchall() == \
        [(new.batch_id,)]
    # the original file is no longer 'loaded', so loading it again is allowed and replaces v2 back
    back = ingest_file(con, CUR2, isolate=False, replace=True)
    assert back.status == "loaded" and back.replaced == [new.batch_id]
    assert _totals(con) == (24, Decimal("3258.054"), Decimal("65.716"))


def test_a_failed_replacement_leaves_everything_as_it_was(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ingest_file(con, CUR2, isolate=False)
    before = store.table_checksums(con)
    bad = tmp_path / "all_bad.csv"
    rows = list(csv.reader(io.StringIO(CUR2.read_text())))
    cur_i = rows[0].index("line_item_currency_code")
    for r in rows[1:]:
        r[cur_i] = "XYZ"
    with open(bad, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    res = ingest_file(con, bad, isolate=False)
    assert res.status == "refused"
    assert "all_bad.csv" in res.messages[0] and "all 13 rows failed validation" in res.messages[0]
    assert "ISO 4217" in res.messages[0]
    assert store.table_checksums(con) == before


def test_partly_replaced_batch_keeps_its_other_months(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    two_months = tmp_path / "two.csv"
    rows = list(csv.reader(io.StringIO(CUR2.read_text())))
    per_i, id_i = rows[0].index("bill_billing_period_start_date"), rows[0].index("identity_line_item_id")
    extra = [list(r) for r in rows[1:13]]
    for r in extra:
        r[per_i], r[id_i] = "2025-03-01T00:00:00Z", r[id_i] + "-m"
    with open(two_months, "w", newline="") as f:
        csv.writer(f).writerows(rows[:13] + extra)
    both = ingest_file(con, two_months, isolate=False)
    assert both.rows_loaded == 24
    feb_only = ingest_file(con, _rewrite_cur2(tmp_path / "feb.csv", scale_first="2.096"), isolate=False, replace=True)
    assert feb_only.replaced == [both.batch_id]
    status, note = con.sql("SELECT status, note FROM ingest_batch WHERE batch_id = ?",
                           params=[both.batch_id]).fetchall()[0]
    assert status == "loaded" and f"partly replaced by {feb_only.batch_id}" in note
    per_batch = dict(con.sql("SELECT batch_id, count(*) FROM cost_line GROUP BY 1").fetchall())
    assert per_batch == {both.batch_id: 12, feb_only.batch_id: 12}


def test_rollback_deletes_rows_marks_batch_and_audits(con: duckdb.DuckDBPyConnection) -> None:
    a = ingest_file(con, SAMPLES / "azure_ea_cost_details_sample_anonymized.csv", isolate=False, user="fin")
    b = ingest_file(con, CUR2, isolate=False, user="fin")
    assert _totals(con)[0] == 27 + 12
    msg = rollback_batch(con, b.batch_id or "", "auditor1", "wrong account")
    assert "12 rows removed from cost_line" in msg
    assert _totals(con)[0] == 27
    batches = list_batches(con)
    assert dict(zip(batches["batch_id"], batches["status"], strict=True)) == {
        a.batch_id: "loaded", b.batch_id: "rolled_back"}
    ev = con.sql("SELECT actor, action, entity_id, detail->>'rows_deleted' FROM audit_event "
                 "WHERE action = 'ingest_rollback'").fetchall()
    assert ev == [("auditor1", "ingest_rollback", b.batch_id, "12")]
    assert audit.verify(con).ok
    # quarantine history stays with the batch
    assert quarantine_rows(con, b.batch_id or "").height == 1
    # a rolled-back file may be loaded again
    assert ingest_file(con, CUR2, isolate=False).status == "loaded"


def test_dry_run_previews_without_writing(con: duckdb.DuckDBPyConnection) -> None:
    before = store.table_checksums(con)
    res = ingest_file(con, FIXTURES / "focus_1.3_allocated.csv", isolate=False, dry_run=True)
    assert res.status == "staged" and res.rows_loaded == 4 and res.rows_quarantined == 1
    assert res.preview is not None and res.preview.height == 4
    assert res.preview["resource_id"].to_list()[:2] == ["ns-payments", "ns-search"]
    assert res.quarantine_preview is not None and res.quarantine_preview["row_number"].to_list() == [1]
    assert store.table_checksums(con) == before


def test_progress_reaches_one_and_never_goes_back(con: duckdb.DuckDBPyConnection) -> None:
    seen: list[tuple[float, str]] = []
    res = ingest_file(con, SAMPLES / "focus_1.0_sample_1000rows.csv", isolate=True,
                      progress=lambda f, m: seen.append((f, m)))
    assert res.status == "loaded" and res.rows_loaded == 1000
    fracs = [f for f, _ in seen]
    assert fracs == sorted(fracs) and fracs[-1] == 1.0 and len(fracs) >= 3
    assert seen[0][1].startswith("Reading focus_1.0_sample_1000rows.csv")


def test_child_over_its_memory_cap_is_refused_and_the_parent_survives(con: duckdb.DuckDBPyConnection) -> None:
    before = store.table_checksums(con)
    res = ingest_file(con, CUR2, limits=Limits(memory_mb=256), _test_hooks={"_test_allocate_mb": 8000})
    assert res.status == "refused"
    assert res.messages[0].startswith("aws_cur2_sample.csv: ") and "256 MB of memory" in res.messages[0]
    assert store.table_checksums(con) == before
    assert ingest_file(con, CUR2).status == "loaded"     # the same process goes on working


def test_a_real_file_over_the_time_limit_is_stopped(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """The child's typed staging pass over 300k FOCUS lines cannot finish in 1 s. (Staged mode: the direct fast
    path's structural pass is quick enough to finish a file this size within the limit on a quiet machine.)"""
    big = tmp_path / "big_focus.csv"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{SAMPLES / 'focus_1.0_sample_1000rows.csv'}', all_varchar = true), "
               f"range(300)) TO '{big}' (FORMAT csv, HEADER)")
    before = store.table_checksums(con)
    res = ingest_file(con, big, limits=Limits(seconds=1.0), direct=False)
    assert res.status == "refused"
    assert res.messages == ["big_focus.csv: a file that parses within 1 s (parsing was stopped)"]
    assert store.table_checksums(con) == before


def _cost_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.sql("SELECT * FROM cost_line ORDER BY ALL").fetchall()


def test_rolling_back_a_redelivery_restores_the_month_it_replaced(con: duckdb.DuckDBPyConnection,
                                                                  tmp_path: Path) -> None:
    v1 = ingest_file(con, CUR2, isolate=False, user="fin")
    state_v1 = _cost_rows(con)
    scope_v1 = con.sql("SELECT * FROM ingest_batch_scope ORDER BY ALL").fetchall()
    v2 = ingest_file(con, _rewrite_cur2(tmp_path / "feb_v2.csv", scale_first="1.096"), isolate=False, replace=True)
    assert v2.replaced == [v1.batch_id] and _cost_rows(con) != state_v1
    assert con.sql("SELECT count(*) FROM cost_line_superseded WHERE superseded_by = ?",
                   params=[v2.batch_id]).fetchall()[0][0] == 12

    msg = rollback_batch(con, v2.batch_id or "", "fin", "the correction was wrong")
    assert f"restored 12 rows of batch {v1.batch_id}" in msg
    assert _cost_rows(con) == state_v1   # the very rows of the first delivery, batch id included
    assert con.sql("SELECT count(*) FROM cost_line_superseded").fetchall()[0][0] == 0
    status = dict(con.sql("SELECT batch_id, status FROM ingest_batch").fetchall())
    assert status == {v1.batch_id: "loaded", v2.batch_id: "rolled_back"}
    assert [r for r in con.sql("SELECT * FROM ingest_batch_scope ORDER BY ALL").fetchall()
            if r[0] == v1.batch_id] == scope_v1
    ev = con.sql("SELECT detail->>'restored' FROM audit_event WHERE action = 'ingest_rollback'").fetchall()[0][0]
    assert json.loads(ev) == {v1.batch_id: 12}
    assert audit.verify(con).ok
    # a third delivery replaces the restored first one as usual
    v3 = ingest_file(con, _rewrite_cur2(tmp_path / "feb_v3.csv", scale_first="2.096"), isolate=False, replace=True)
    assert v3.replaced == [v1.batch_id]


def test_rollback_in_a_chain_restores_only_months_nobody_else_covers(con: duckdb.DuckDBPyConnection,
                                                                      tmp_path: Path) -> None:
    v1 = ingest_file(con, CUR2, isolate=False)
    v2 = ingest_file(con, _rewrite_cur2(tmp_path / "v2.csv", scale_first="1.096"), isolate=False, replace=True)
    state_v2 = _cost_rows(con)
    v3 = ingest_file(con, _rewrite_cur2(tmp_path / "v3.csv", scale_first="2.096"), isolate=False, replace=True)
    assert v3.replaced == [v2.batch_id]
    # v3 rolled back → v2's rows return (not v1's); then v2 rolled back → v1's return
    assert f"of batch {v2.batch_id}" in rollback_batch(con, v3.batch_id or "", "fin")
    assert _cost_rows(con) == state_v2
    assert f"of batch {v1.batch_id}" in rollback_batch(con, v2.batch_id or "", "fin")
    assert {r[0] for r in con.sql("SELECT DISTINCT batch_id FROM cost_line").fetchall()} == {v1.batch_id}
    assert _totals(con)[0] == 12


def test_rollback_keeps_a_month_a_later_batch_now_covers(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """v1 = Feb; v2 = Feb + Mar replaces v1; v3 = Feb only replaces v2's February. Rolling back v2 removes its
    March and must not bring v1's February back on top of v3's."""
    v1 = ingest_file(con, CUR2, isolate=False)
    rows = list(csv.reader(io.StringIO(CUR2.read_text())))
    per_i, id_i = rows[0].index("bill_billing_period_start_date"), rows[0].index("identity_line_item_id")
    extra = [list(r) for r in rows[1:13]]
    for r in extra:
        r[per_i], r[id_i] = "2025-03-01T00:00:00Z", r[id_i] + "-m"
    two = tmp_path / "two.csv"
    with open(two, "w", newline="") as f:
        csv.writer(f).writerows(rows[:13] + extra)
    v2 = ingest_file(con, two, isolate=False, replace=True)
    assert v2.replaced == [v1.batch_id]
    v3 = ingest_file(con, _rewrite_cur2(tmp_path / "v3.csv", scale_first="2.096"), isolate=False, replace=True)
    assert v3.replaced == [v2.batch_id]
    msg = rollback_batch(con, v2.batch_id or "", "fin")
    assert "restored" not in msg
    per_batch = dict(con.sql("SELECT batch_id, count(*) FROM cost_line GROUP BY 1").fetchall())
    assert per_batch == {v3.batch_id: 12}
    assert dict(con.sql("SELECT batch_id, status FROM ingest_batch").fetchall())[v1.batch_id] == "replaced"
