"""Direct mode (the child stages only verdicts; the parent loads accepted rows straight from the file with the same
compiled plan) writes exactly what the staged path writes: byte-identical table checksums on the FOCUS sample, on
files with bad rows (typed, enum, currency, tags, an unsplittable CSV line, duplicates), from CSV and Parquet, in
process and in the child; a refused file, or a file changed between the child's check and the parent's load, leaves
the store unchanged."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

import engine.ingest.pipeline as ingest_mod
from engine import store
from engine.ingest.pipeline import IngestResult, ingest_file, quarantine_rows
from tests.conftest import SAMPLES
from tests.fx_rates import seed_test_rates

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
FOCUS10 = SAMPLES / "focus_1.0_sample_1000rows.csv"
CUR2 = FIXTURES / "aws_cur2_sample.csv"
AZURE = SAMPLES / "azure_ea_cost_details_sample_anonymized.csv"
GCP = FIXTURES / "gcp_billing_export.jsonl"
COMPARED = ("cost_line", "quarantine_row", "ingest_batch_scope")


def _focus_with(dest: Path, cells: dict[tuple[int, str], str], reject_line: bool = False) -> Path:
    """The FOCUS sample with some cells replaced ((row index, column) → text) and, optionally, one line the CSV
    reader cannot split."""
    rows = list(csv.reader(io.StringIO(FOCUS10.read_text())))
    for (i, column), value in cells.items():
        rows[i][rows[0].index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    lines = buf.getvalue().splitlines(keepends=True)
    if reject_line:
        lines.insert(25, '"a","b"\n')   # too few columns: a reader reject, the rest still loads
    dest.write_text("".join(lines))
    return dest


def _damaged_focus(dest: Path, *, reject_line: bool = True) -> Path:
    """The FOCUS sample with a bad row of each kind and one line the CSV reader cannot split."""
    return _focus_with(dest, {(3, "BilledCost"): "12,50 EUR", (7, "BillingCurrency"): "XXX",
                              (11, "ChargeCategory"): "Bogus", (15, "Tags"): "{not json",
                              (19, "ChargePeriodStart"): "yesterday"}, reject_line)


def _only_typed_failures(dest: Path) -> Path:
    """Rows that fail a typed check but split fine and carry parseable tags: the structural pre-check passes them,
    the load's own checks do not — the fast path must notice and fall back to the numbered verdict pass."""
    return _focus_with(dest, {(5, "BillingCurrency"): "XXX", (9, "EffectiveCost"): "n/a"})


def _parquet_of(src: Path, dest: Path) -> Path:
    c = duckdb.connect()
    c.execute(f"COPY (SELECT * FROM read_csv('{src}', all_varchar = true)) TO '{dest}' (FORMAT parquet)")
    c.close()
    return dest


def _load(tmp_path: Path, label: str, path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any
          ) -> tuple[IngestResult, dict[str, tuple[int, int]], list[Any], int]:
    """Ingest into a fresh store with deterministic batch ids; returns result, checksums, quarantine, direct loads."""
    counter = itertools.count()
    monkeypatch.setattr(ingest_mod.uuid, "uuid4", lambda: uuid.UUID(int=next(counter)))
    calls = {"n": 0}
    real = ingest_mod.direct_select_sql

    def spy(*a: Any, **k: Any) -> str:
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(ingest_mod, "direct_select_sql", spy)
    con = store.connect(tmp_path / f"{label}.duckdb")
    seed_test_rates(con)   # the Azure (CAD) and GCP (EUR) fixtures
    try:
        res = ingest_file(con, path, **kw)
        sums = {t: v for t, v in store.table_checksums(con).items() if t in COMPARED}
        q = quarantine_rows(con, res.batch_id).rows() if res.batch_id else []
    finally:
        con.close()
    return res, sums, q, calls["n"]


Maker = Callable[[Path], Path]
CASES: dict[str, tuple[Maker, dict[str, Any]]] = {
    "focus_sample_csv": (lambda d: FOCUS10, {}),
    "focus_sample_parquet": (lambda d: _parquet_of(FOCUS10, d / "focus.parquet"), {}),
    "focus_bad_rows_csv": (lambda d: _damaged_focus(d / "bad.csv"), {}),
    "focus_bad_rows_parquet": (lambda d: _parquet_of(_damaged_focus(d / "bad.csv", reject_line=False),
                                                                d / "bad.parquet"), {}),
    "cur2_duplicates": (lambda d: CUR2, {}),
    "azure_ea": (lambda d: AZURE, {}),
    "gcp_jsonl": (lambda d: GCP, {}),
    "focus_typed_failures_only_csv": (lambda d: _only_typed_failures(d / "typed.csv"), {}),
    "focus_latin1": (lambda d: (d / "l1.csv").write_bytes(FOCUS10.read_text().replace("Compute", "Comput\u00e9")
                                                          .encode("latin-1")) and d / "l1.csv",
                     {"options": {"encoding": "latin-1"}}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_direct_load_is_byte_identical_to_the_staged_copy(case: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    make, kw = CASES[case]
    path = make(tmp_path)
    staged, staged_sums, staged_q, n0 = _load(tmp_path, "staged", path, monkeypatch, isolate=False, direct=False,
                                               **kw)
    direct, direct_sums, direct_q, n1 = _load(tmp_path, "direct", path, monkeypatch, isolate=False, **kw)
    assert staged.status == direct.status == "loaded", (staged.messages, direct.messages)
    # the staged path copied rows; the direct path loaded from the file — once for a clean file (structural
    # pre-check, checks applied by the load); a file with rows to quarantine may take a second, numbered load
    assert n0 == 0 and n1 in (1, 2)
    if direct.rows_quarantined == 0:
        assert n1 == 1
    assert direct.batch_id == staged.batch_id
    assert (direct.rows_read, direct.rows_loaded, direct.rows_quarantined) == \
        (staged.rows_read, staged.rows_loaded, staged.rows_quarantined)
    assert direct_sums == staged_sums and direct_sums["cost_line"][0] == direct.rows_loaded
    assert direct_q == staged_q   # row, column, reason and raw unchanged
    if case.startswith("focus_bad_rows"):
        assert direct.rows_quarantined == (6 if case.endswith("csv") else 5)
        reasons = " | ".join(str(r) for r in direct_q)
        for text in ("expected a decimal number, got 12,50 EUR", "ISO 4217", "expected one of", "tags as a JSON",
                     "a date/time"):
            assert text in reasons


def test_direct_load_in_the_child_process_matches_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _damaged_focus(tmp_path / "bad.csv")
    _, staged_sums, staged_q, _ = _load(tmp_path, "staged", path, monkeypatch, isolate=True, direct=False)
    res, direct_sums, direct_q, n = _load(tmp_path, "direct", path, monkeypatch, isolate=True)
    assert res.status == "loaded" and n == 1
    assert direct_sums == staged_sums and direct_q == staged_q


def test_a_refused_file_leaves_the_store_unchanged(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    assert ingest_file(con, CUR2, isolate=False).status == "loaded"
    before = store.table_checksums(con)
    rows = list(csv.reader(io.StringIO(FOCUS10.read_text())))
    i = rows[0].index("BillingCurrency")
    for r in rows[1:]:
        r[i] = "???"
    bad = tmp_path / "all_bad.csv"
    with open(bad, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    res = ingest_file(con, bad, isolate=True)
    assert res.status == "refused" and "all 1000 rows failed validation" in res.messages[0]
    assert store.table_checksums(con) == before


def test_a_file_changed_after_the_check_is_refused_and_nothing_is_written(
        con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ingest_file(con, CUR2, isolate=False).status == "loaded"
    before = store.table_checksums(con)
    path = tmp_path / "focus.csv"
    path.write_bytes(FOCUS10.read_bytes())
    real_stage = ingest_mod.stage

    def stage_then_tamper(*a: Any, **k: Any) -> Any:
        meta = real_stage(*a, **k)
        with open(path, "a") as f:   # another row appears after the child accepted the file
            f.write(FOCUS10.read_text().splitlines()[1] + "\n")
        return meta

    monkeypatch.setattr(ingest_mod, "stage", stage_then_tamper)
    res = ingest_file(con, path, isolate=False)
    assert res.status == "refused" and "does not change while it is being loaded" in res.messages[0]
    assert store.table_checksums(con) == before
    # the parent's settings are restored even so
    assert con.sql("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0] is True


def _spy_precheck(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records, per staging call, whether the structural pre-check vouched for the file."""
    import engine.ingest.staging as staging_mod  # noqa: PLC0415

    seen: list[bool] = []
    real = staging_mod._precheck

    def spy(*a: Any, **k: Any) -> Any:
        meta = real(*a, **k)
        seen.append(meta is not None)
        return meta

    monkeypatch.setattr(staging_mod, "_precheck", spy)
    return seen


def test_a_clean_file_takes_the_fast_path_and_reports_its_scope(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_precheck(monkeypatch)
    res, sums, q, n = _load(tmp_path, "fast", FOCUS10, monkeypatch, isolate=False)
    assert seen == [True] and n == 1
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (1000, 1000, 0) and q == []
    con = store.connect(tmp_path / "fast.duckdb")
    try:
        scope = con.sql("SELECT provider, billing_period, rows_loaded, billed_cost FROM ingest_batch_scope "
                        "ORDER BY ALL").fetchall()
        raw = duckdb.sql(f"SELECT ProviderName, strftime(BillingPeriodStart::TIMESTAMP, '%Y-%m'), count(*), "
                         f"sum(BilledCost::DECIMAL(38, 10)) FROM read_csv('{FOCUS10}', nullstr = 'NULL') "
                         f"GROUP BY ALL ORDER BY ALL").fetchall()
        assert [(p, bp, n_, b) for p, bp, n_, b in scope] == raw
        periods = sorted({r[1] for r in raw})
        label = periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"
        assert con.sql("SELECT billing_period FROM ingest_batch").fetchall()[0][0] == label
    finally:
        con.close()


def test_a_file_whose_rows_fail_only_typed_checks_falls_back_and_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy_precheck(monkeypatch)
    path = _only_typed_failures(tmp_path / "typed.csv")
    res, _, q, n = _load(tmp_path, "fallback", path, monkeypatch, isolate=False)
    assert seen == [True] and n == 2   # fast attempt rolled back, then the numbered load
    assert (res.rows_read, res.rows_loaded, res.rows_quarantined) == (1000, 998, 2)
    assert sorted((r[0], r[1]) for r in q) == [(5, "billing_currency"), (9, "EffectiveCost")]
    con = store.connect(tmp_path / "fallback.duckdb")
    try:   # exactly one batch, no trace of the rolled-back attempt
        assert con.sql("SELECT count(*), count(DISTINCT batch_id) FROM cost_line").fetchall() == [(998, 1)]
        assert con.sql("SELECT count(*) FROM ingest_batch").fetchall()[0][0] == 1
        assert con.sql("SELECT count(*) FROM audit_event WHERE action = 'ingest'").fetchall()[0][0] == 1
    finally:
        con.close()


def test_progress_is_reported_from_the_calling_thread(tmp_path: Path) -> None:
    """A Streamlit page can only draw from its script thread: every progress report, including the load's, comes
    from the thread that called ingest_file, and a failing statement still raises there."""
    import threading  # noqa: PLC0415

    calls: list[tuple[float, str, int]] = []
    con = store.connect(tmp_path / "p.duckdb")
    try:
        res = ingest_file(con, FOCUS10, isolate=True,
                          progress=lambda f, m: calls.append((f, m, threading.get_ident())))
        assert res.status == "loaded"
        assert {t for _, _, t in calls} == {threading.get_ident()}
        assert all(0.0 <= f <= 1.0 for f, _, _ in calls) and calls[-1][:2] == (1.0, "Done")
        assert any(m == "Checking and writing 1,000 rows" for _, m, _ in calls)
        before = con.sql("SELECT current_setting('enable_progress_bar')").fetchall()
        with pytest.raises(duckdb.Error):
            ingest_mod._run_watched(con, "SELECT CAST('x' AS INTEGER)", [], lambda s: None)
        assert ingest_mod._run_watched(con, "SELECT ?::INTEGER + 1", [41], lambda s: None) == [(42,)]
        # DuckDB's own settings are put back after a watched statement (whatever they were: a terminal or not)
        assert con.sql("SELECT current_setting('enable_progress_bar')").fetchall() == before
    finally:
        con.close()
