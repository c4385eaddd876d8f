"""Backup and restore of the whole store through the CLI (`python -m engine backup|restore`), verified per table;
a tampered backup refused; and a store built by the first migration only (tests/fixtures/store_0001) migrating
forward without losing a row."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.__main__ import main
from engine.ingest.pipeline import ingest_file, rollback_batch
from engine.store import audit, day_rollup, rollup
from engine.store import backup as backups
from tests.fx_rates import seed_test_rates

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
AUDIT_TABLES = {"audit_event", "audit_append_lock", "audit_checkpoint"}


def _filled_store(db: Path) -> tuple[dict[str, tuple[int, int]], str]:
    con = store.connect(db)
    seed_test_rates(con)
    focus = ingest_file(con, FIXTURES / "focus_1.2_sample.csv", isolate=False, user="fiona")
    cur = ingest_file(con, FIXTURES / "aws_cur2_sample.csv", isolate=False, user="fiona")
    assert focus.status == cur.status == "loaded"
    sums = store.table_checksums(con)
    con.close()
    return sums, str(cur.batch_id)


def test_backup_then_restore_gives_back_every_table_identical(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "live.duckdb"
    before, cur_batch = _filled_store(db)
    assert main(["backup", str(tmp_path / "bk"), "--db", str(db), "--user", "admin"]) == 0
    assert "backed up" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "bk" / backups.MANIFEST).read_text())
    assert {t: (v["rows"], int(v["hash"])) for t, v in manifest["tables"].items()} == before
    # the store moves on after the backup: a rollback, then the restore puts everything back
    con = store.connect(db)
    assert backups.last_backup(con) is not None and backups.last_backup(con)[1] == "admin"  # type: ignore[index]
    rollback_batch(con, cur_batch, "fiona", "test")
    billed_after_rollback = con.sql("SELECT sum(billed_cost) FROM cost_line").fetchall()[0][0]
    con.close()
    assert main(["restore", str(tmp_path / "bk"), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "every table matched the backup's checksums" in out and "kept as" in out
    con = store.connect(db)
    after = store.table_checksums(con)
    assert {t: v for t, v in after.items() if t not in AUDIT_TABLES} == \
        {t: v for t, v in before.items() if t not in AUDIT_TABLES}
    billed = con.sql("SELECT sum(billed_cost) FROM cost_line").fetchall()[0][0]
    assert billed_after_rollback == Decimal("45.1550000000")   # the FOCUS sample alone: EUR 41.05 at 1.1
    assert billed == Decimal("1674.1820000000")                  # FOCUS USD 45.155 + CUR USD 1629.027
    actions = [r[0] for r in con.sql("SELECT action FROM audit_event ORDER BY seq").fetchall()]
    assert actions == ["fx.rates", "ingest", "ingest", "store_restore"]   # the backup event is in the replaced store
    assert audit.verify(con).ok
    con.close()
    kept = sorted(p.name for p in tmp_path.iterdir() if ".before-restore-" in p.name)
    assert kept[0].startswith("live.duckdb.before-restore-")   # the replaced store is kept, never deleted


def test_a_tampered_backup_is_refused_and_the_store_is_untouched(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "live.duckdb"
    _filled_store(db)
    assert main(["backup", str(tmp_path / "bk"), "--db", str(db)]) == 0
    manifest_path = tmp_path / "bk" / backups.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["cost_line"]["rows"] += 1
    manifest_path.write_text(json.dumps(manifest))
    con = store.connect(db)
    live = store.table_checksums(con)
    con.close()
    assert main(["restore", str(tmp_path / "bk"), "--db", str(db)]) == 3   # integrity failure (docs/cli.md)
    err = capsys.readouterr().err
    assert "do not match the backup's checksums, nothing was restored: cost_line: 18 rows expected, 17 imported" \
        in err
    con = store.connect(db)
    assert store.table_checksums(con) == live
    con.close()
    assert not [p for p in tmp_path.iterdir() if "restor" in p.name]


def test_backup_refuses_a_folder_that_is_not_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "live.duckdb"
    _filled_store(db)
    (tmp_path / "bk").mkdir()
    (tmp_path / "bk" / "x").write_text("keep me")
    assert main(["backup", str(tmp_path / "bk"), "--db", str(db)]) == 1
    assert "is not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "bk" / "x").read_text() == "keep me"


def _original_columns(con: duckdb.DuckDBPyConnection, old: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per table of the old store: (rows, hash over the columns the old store had) in `con`."""
    out = {}
    for (t,) in old.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                        "AND table_type = 'BASE TABLE' AND table_name <> 'schema_migration'").fetchall():
        cols = [r[0] for r in old.sql("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                      "ORDER BY ordinal_position", params=[t]).fetchall()]
        sel = ", ".join(f'"{c}"' for c in cols)
        n, h = con.sql(f'SELECT count(*), coalesce(sum(hash(struct_pack({sel}))), 0) FROM (SELECT {sel} FROM "{t}")'
                       ).fetchall()[0]
        out[t] = (int(n), int(h))
    return out


def test_a_store_from_the_first_migration_migrates_forward_without_loss(tmp_path: Path) -> None:
    src = tmp_path / "store_0001"
    shutil.copytree(FIXTURES / "store_0001", src)
    old = duckdb.connect(str(tmp_path / "old.duckdb"))
    old.execute(f"IMPORT DATABASE '{src}'")
    assert old.sql("SELECT list(version) FROM schema_migration").fetchall()[0][0] == [1]
    before = _original_columns(old, old)
    assert before["cost_line"][0] == 3 and before["org_unit"][0] == 3
    old.close()
    con = store.connect(tmp_path / "old.duckdb")   # migrations 2…N applied here
    versions = [r[0] for r in con.sql("SELECT version FROM schema_migration ORDER BY 1").fetchall()]
    assert versions == [v for v, _, _ in store.migrations()]
    old = duckdb.connect(":memory:")
    old.execute(f"IMPORT DATABASE '{src}'")
    assert _original_columns(con, old) == before
    assert con.sql("SELECT sum(billed_cost) FROM cost_line").fetchall()[0][0] == Decimal("11.0500000001")
    assert con.sql("SELECT tags['cost_center'] FROM cost_line WHERE service_name = 'Compute'").fetchall()[0][0] \
        == "CC100"
    # the rollups the migrations build from the old lines are current: the dashboards and forecast read them
    assert rollup.current(con) and day_rollup.current(con)
    assert con.sql("SELECT sum(lines) FROM day_rollup").fetchall()[0][0] == 3
    # and the migrated store works: a new bill loads beside the old one
    seed_test_rates(con)
    res = ingest_file(con, FIXTURES / "focus_1.2_sample.csv", isolate=False)
    assert res.status == "loaded" and res.rows_loaded == 5
    assert rollup.current(con) and day_rollup.current(con)
    con.close()
