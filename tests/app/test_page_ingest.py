"""The ingest page: guarded, uploads through the sandboxed pipeline, shows the validation report and the no-op
message on a repeat, lists batches and rolls one back (checked against the store with SQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as
from tests.fx_rates import seed_test_rates

pytestmark = pytest.mark.usefixtures("app_env")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def app_env(app_env: Path) -> Path:
    """The demo store with the test rates: the uploads here are the EUR-billed FOCUS fixture (tests/fx_rates.py)."""
    con = store.connect(app_env)
    try:
        seed_test_rates(con)
    finally:
        con.close()
    return app_env


def _count(db: Path, sql: str) -> object:
    con = store.connect(db)
    try:
        return con.sql(sql).fetchall()[0][0]
    finally:
        con.close()


def test_anonymous_and_wrong_role_see_no_uploader() -> None:
    anon = page_as("ingest", None).run()
    assert not anon.exception and len(anon.file_uploader) == 0
    exec_ = page_as("ingest", "eve").run()
    assert not exec_.exception and len(exec_.file_uploader) == 0
    assert any("cannot open this page" in e.value for e in exec_.error)


def test_upload_report_repeat_and_rollback(app_env: Path) -> None:
    at = page_as("ingest", "fiona").run()
    assert not at.exception, at.exception
    bad_row = (FIXTURES / "focus_1.2_sample.csv").read_text().replace("10.25,10.25", "ten,10.25", 1)
    at.file_uploader(key="ingest_files").upload("focus_bad_row.csv", bad_row.encode(), "text/csv")
    at.run()
    at.button(key="ingest_load").click().run()
    assert not at.exception, at.exception
    ok = [s.value for s in at.success]
    assert any("focus_bad_row.csv: loaded 4 rows into cost_line" in s and "(1 quarantined)" in s for s in ok), ok
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Rows read": "5", "Loaded": "4", "Quarantined": "1"}
    report = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert report and report[0]["reason"].tolist() == ["expected a decimal number, got ten"]
    assert report[0]["row_number"].tolist() == [1] and report[0]["column_name"].tolist() == ["BilledCost"]
    batch = _count(app_env, "SELECT batch_id FROM ingest_batch WHERE file_name = 'focus_bad_row.csv'")
    assert _count(app_env, f"SELECT count(*) FROM cost_line WHERE batch_id = '{batch}'") == 4
    # the same file again: a no-op that says so
    at.button(key="ingest_load").click().run()
    infos = [i.value for i in at.info]
    assert any("focus_bad_row.csv: already loaded as batch" in i and "nothing changed" in i for i in infos), infos
    assert _count(app_env, "SELECT count(*) FROM ingest_batch WHERE file_name = 'focus_bad_row.csv'") == 1
    # history and rollback
    hist = page_as("ingest", "fiona").run()
    hist.selectbox(key="ingest_batch_pick").set_value(batch).run()
    hist.text_input(key="ingest_rollback_reason").input("test load")
    hist.checkbox(key="ingest_rollback_sure").check()
    hist.button[-1].click().run()
    assert not hist.exception, hist.exception
    assert any("4 rows removed from cost_line" in s.value for s in hist.success), [s.value for s in hist.success]
    assert _count(app_env, f"SELECT status FROM ingest_batch WHERE batch_id = '{batch}'") == "rolled_back"
    assert _count(app_env, f"SELECT count(*) FROM cost_line WHERE batch_id = '{batch}'") == 0


def test_check_only_previews_without_writing(app_env: Path) -> None:
    before = _count(app_env, "SELECT count(*) FROM ingest_batch")
    at = page_as("ingest", "admin").run()
    at.file_uploader(key="ingest_files").upload("gcp.jsonl", (FIXTURES / "gcp_billing_export.jsonl").read_bytes())
    at.run()
    at.button(key="ingest_check").click().run()
    assert not at.exception, at.exception
    assert any("gcp.jsonl: checked 4 rows, 4 rows would load into cost_line" in i.value for i in at.info)
    previews = [d.value for d in at.dataframe if "effective_cost" in d.value.columns]
    assert previews and len(previews[0]) == 4
    assert _count(app_env, "SELECT count(*) FROM ingest_batch") == before
