"""The Ingest page asks before a re-delivered billing month replaces loaded rows: the 20-row file for a month loaded
with 1,000 rows shows what it replaces (batch, month, rows, amounts, the loud drop warning) and two buttons; *Keep
the loaded data* writes nothing, *Replace* loads it from the bytes kept in the session (checked with SQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as
from tests.conftest import needs_samples
from tests.unit.redelivery_files import focus_month
from ui.formats import plain

pytestmark = [pytest.mark.usefixtures("app_env"), needs_samples]


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = store.connect(db)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_a_redelivery_is_confirmed_or_kept_on_the_page(app_env: Path, tmp_path: Path) -> None:
    full = focus_month(tmp_path / "sep_full.csv", 1000).read_bytes()
    short = focus_month(tmp_path / "sep_short.csv", 20).read_bytes()
    at = page_as("ingest", "fiona").run()
    at.file_uploader(key="ingest_files").set_value(("sep_full.csv", full, "text/csv"))
    at.run()
    at.button(key="ingest_load").click().run()
    assert not at.exception, at.exception
    assert any("sep_full.csv: loaded 1000 rows into cost_line" in s.value for s in at.success)
    [(old,)] = _rows(app_env, "SELECT batch_id FROM ingest_batch WHERE file_name = 'sep_full.csv'")

    at.file_uploader(key="ingest_files").set_value(("sep_short.csv", short, "text/csv"))
    at.run()
    at.button(key="ingest_load").click().run()
    assert not at.exception, at.exception
    assert any(plain(f"would replace loaded billing months of batch {old}") in w.value for w in at.warning)
    loud = plain("September 2024 (AWS 1234567890123) drops from $13.00 to $0.00 (−100 %)")   # shown as text
    assert any(loud in e.value for e in at.error), [e.value for e in at.error]
    [table] = [d.value for d in at.dataframe if "rows now" in d.value.columns]
    assert table["batch"].tolist() == [old] and table["month"].tolist() == ["September 2024"]
    assert (table["rows now"].tolist(), table["rows in file"].tolist()) == ([1000], [20])
    assert [str(v) for v in table["effective now"].tolist()] == ["13.0000000000"]
    assert _rows(app_env, "SELECT count(*) FROM ingest_batch WHERE file_name = 'sep_short.csv'") == [(0,)]

    at.button(key="ingest_keep_0").click().run()
    assert not at.exception, at.exception
    assert any("sep_short.csv: not loaded; the loaded data is kept as it was" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key in ("ingest_replace_0", "ingest_keep_0")]
    assert _rows(app_env, f"SELECT count(*) FROM cost_line WHERE batch_id = '{old}'") == [(1000,)]

    at.button(key="ingest_load").click().run()
    at.button(key="ingest_replace_0").click().run()
    assert not at.exception, at.exception
    assert any("sep_short.csv: loaded 20 rows into cost_line" in s.value for s in at.success)
    assert any(plain(f"replaces earlier rows of batch {old}") in s.value for s in at.success)
    [(new,)] = _rows(app_env, "SELECT batch_id FROM ingest_batch WHERE file_name = 'sep_short.csv'")
    assert _rows(app_env, f"SELECT status, replaced_by FROM ingest_batch WHERE batch_id = '{old}'") == \
        [("replaced", new)]
    assert _rows(app_env, f"SELECT count(*) FROM cost_line WHERE batch_id IN ('{old}', '{new}')") == [(20,)]
