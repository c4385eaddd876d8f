"""A re-delivered billing month is not replaced silently: a 20-row FOCUS file for a month loaded with 1,000 rows
comes back 'needs_confirmation' naming the batch and its amounts, with nothing written (also on the fast path, whose
insert is rolled back); with replace=True both batches are in the history, the old one 'replaced' by the new one,
and rolling the new one back restores the old one. A drop beyond redelivery_drop_warn_pct is a loud warning."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.ingest.pipeline import ingest_file, list_batches, rollback_batch
from tests.conftest import needs_samples
from tests.unit.redelivery_files import focus_month, sums

pytestmark = needs_samples


def _loaded(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> tuple[str, Path]:
    first = ingest_file(con, focus_month(tmp_path / "sep_full.csv", 1000), isolate=False, user="fiona")
    assert first.status == "loaded" and first.rows_loaded == 1000 and first.batch_id
    return first.batch_id, focus_month(tmp_path / "sep_short.csv", 20)


@pytest.mark.parametrize("direct", [True, False], ids=["fast-path", "staged"])
def test_a_smaller_redelivery_needs_confirmation_and_writes_nothing(con: duckdb.DuckDBPyConnection, tmp_path: Path,
                                                                    direct: bool) -> None:
    old, short = _loaded(con, tmp_path)
    before = store.table_checksums(con)
    res = ingest_file(con, short, isolate=False, direct=direct, user="omar")
    assert res.status == "needs_confirmation" and not res.ok and res.batch_id is None and res.rows_loaded == 0
    assert store.table_checksums(con) == before      # nothing written, not even the fast path's rolled-back rows
    assert f"would replace loaded billing months of batch {old}" in res.messages[0]
    assert "nothing was written" in res.messages[0]
    [p] = res.pending
    n, billed, effective = sums(tmp_path / "sep_full.csv")
    _, new_billed, new_effective = sums(short)
    assert (p.batch_id, p.file, p.loaded_by, p.months, p.rows, p.new_rows) == \
        (old, "sep_full.csv", "fiona", ["2024-09"], 1000, 20)
    assert (p.billed, p.effective, p.new_billed, p.new_effective) == (billed, effective, new_billed, new_effective)
    assert (billed, effective) == (Decimal("18.5361416627"), Decimal("13"))
    assert any("for September 2024: billed $18.54, effective $13.00 → the new file has 20 rows, billed $0.02, "
               "effective $0.00" in m for m in res.messages)
    assert p.as_dict()["effective"] == "13.0000000000" and p.as_dict()["new_effective"] == "0.0000000000"


def test_confirmed_replacement_keeps_both_batches_and_rolls_back(con: duckdb.DuckDBPyConnection,
                                                                 tmp_path: Path) -> None:
    old, short = _loaded(con, tmp_path)
    res = ingest_file(con, short, isolate=False, replace=True, user="fiona")
    assert res.status == "loaded" and res.replaced == [old] and res.rows_loaded == 20
    assert [p.batch_id for p in res.pending] == [old]
    hist = {r["batch_id"]: r for r in list_batches(con).to_dicts()}
    assert set(hist) == {old, res.batch_id}
    assert (hist[old]["status"], hist[old]["replaced_by"]) == ("replaced", res.batch_id)
    assert hist[res.batch_id]["status"] == "loaded"
    assert con.sql("SELECT count(*), sum(effective_cost) FROM cost_line").fetchall() == [(20, Decimal(0))]
    ev = con.sql("SELECT detail->>'confirmed_replace' FROM audit_event WHERE action = 'ingest' "
                 "ORDER BY seq DESC LIMIT 1").fetchall()[0][0]
    assert ev == "true"
    msg = rollback_batch(con, res.batch_id or "", "fiona", "short file")
    assert f"restored 1,000 rows of batch {old}" in msg
    assert con.sql("SELECT count(*), sum(billed_cost), sum(effective_cost) FROM cost_line").fetchall() == \
        [(1000, Decimal("18.5361416627"), Decimal("13"))]
    hist = {r["batch_id"]: r for r in list_batches(con).to_dicts()}
    assert (hist[old]["status"], hist[old]["replaced_by"]) == ("loaded", None)
    assert hist[res.batch_id]["status"] == "rolled_back"


def test_a_drop_beyond_the_threshold_is_a_loud_warning(con: duckdb.DuckDBPyConnection, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    old, short = _loaded(con, tmp_path)
    loud = "September 2024 (AWS 1234567890123) drops from $13.00 to $0.00 (−100 %)"
    res = ingest_file(con, short, isolate=False)
    assert any(w.startswith(loud) for w in res.warnings) and res.pending[0].warnings[0].startswith(loud)
    done = ingest_file(con, short, isolate=False, replace=True)
    assert any(w.startswith(loud) for w in done.warnings)
    # a re-delivery at 60 % of the month is within the default 50 % and says nothing loud …
    rollback_batch(con, done.batch_id or "", "fiona")
    close = ingest_file(con, focus_month(tmp_path / "sep_60.csv", 1000, scale="0.6"), isolate=False)
    assert close.status == "needs_confirmation" and close.pending[0].new_effective == Decimal("7.8")
    assert close.pending[0].warnings == [] and not any("drops from" in w for w in close.warnings)
    # … and is loud once the setting says 30 %
    monkeypatch.setenv("APPORTION_REDELIVERY_DROP_WARN_PCT", "30")
    stricter = ingest_file(con, tmp_path / "sep_60.csv", isolate=False)
    assert any("drops from $13.00 to $7.80 (−40 %)" in w for w in stricter.warnings)


def test_a_dry_run_says_what_it_would_replace(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    old, short = _loaded(con, tmp_path)
    res = ingest_file(con, short, isolate=False, dry_run=True)
    assert res.status == "staged" and res.messages[0].startswith("sep_short.csv: checked 20 rows, 20 rows would load")
    assert [p.batch_id for p in res.pending] == [old]
    assert any(f"would replace earlier rows of batch {old}" in m for m in res.messages)
