from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.store import audit


def test_migrations_apply_once_and_record_versions(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    c = store.connect(path)
    versions = [v for v, _, _ in store.migrations()]
    assert c.execute("SELECT list(version ORDER BY version) FROM schema_migration").fetchall()[0][0] == versions
    c.close()
    c = store.connect(path)  # second start: nothing new applied
    assert store.migrate(c) == []
    tables = store.table_counts(c)
    for t in ("cost_line", "asset", "driver_value", "rule_set", "allocation_result", "audit_event", "quarantine_row"):
        assert tables[t] == 0
    c.close()


def test_money_columns_are_decimal(con: duckdb.DuckDBPyConnection) -> None:
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'cost_line'"
        ).fetchall()
    )
    assert types["billed_cost"].startswith("DECIMAL")
    assert types["effective_cost"].startswith("DECIMAL")


def test_failed_transaction_leaves_nothing(con: duckdb.DuckDBPyConnection) -> None:
    before = store.table_checksums(con)
    with pytest.raises(duckdb.ConstraintException), store.transaction(con):
        con.execute("INSERT INTO org_unit VALUES ('BU1', 'Retail', 'business_unit', NULL, NULL)")
        con.execute("INSERT INTO org_unit VALUES ('BU1', 'Duplicate', 'business_unit', NULL, NULL)")
    assert store.table_checksums(con) == before


def test_audit_chain_detects_changed_and_deleted_rows(con: duckdb.DuckDBPyConnection) -> None:
    for i in range(5):
        audit.record(con, "alice", "rule.submit", "rule_set", f"r{i}", {"i": i})
    assert audit.verify(con).ok and audit.verify(con).checked == 5
    con.execute("UPDATE audit_event SET detail = '{\"i\": 99}' WHERE seq = 3")
    bad = audit.verify(con)
    assert not bad.ok and bad.first_bad_seq == 3
    con.execute("DELETE FROM audit_event WHERE seq >= 3")
    audit.record(con, "eve", "rule.approve")
    # appending after a tail deletion no longer re-chains silently: the head kept beside the store remembers #5
    assert [p.kind for p in audit.verify(con).problems] == ["truncated"]
    con.execute("DELETE FROM audit_event WHERE seq = 2")
    assert audit.verify(con).first_bad_seq is not None


def test_the_store_takes_duckdbs_memory_limit_and_spill_folder_from_settings(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    default = store.connect(tmp_path / "default.duckdb")
    assert default.sql("SELECT current_setting('memory_limit')").fetchall()[0][0] != "512.0 MiB"
    default.close()
    monkeypatch.setenv("APPORTION_DUCKDB_MEMORY_LIMIT_MB", "512")
    monkeypatch.setenv("APPORTION_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))
    con = store.connect(tmp_path / "limited.duckdb")
    try:
        limit, spill = con.sql("SELECT current_setting('memory_limit'), "
                               "current_setting('temp_directory')").fetchall()[0]
        assert (limit, spill) == ("512.0 MiB", str(tmp_path / "spill"))
        # a grouping bigger than the limit (8M distinct 64-character keys) spills there and still answers
        n = con.sql("SELECT count(*) FROM (SELECT h FROM (SELECT md5(range::VARCHAR) || md5((range + 1)::VARCHAR) "
                    "AS h FROM range(8000000)) GROUP BY h)").fetchall()[0][0]
        assert n == 8_000_000
        assert (tmp_path / "spill").is_dir()
    finally:
        con.close()
