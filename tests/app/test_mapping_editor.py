"""The column mapping editor on the Ingest page (real script, real store): map an uploaded file's columns, a
constant, the billing period from a timestamp and two tag columns; preview through the pipeline's dry run; save a
version (and nothing on an unchanged save); load the file and see what landed, checked against the store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")

CSV = ("Start,End,Amount,Currency,Product,Squad\n"
       "2026-09-03,2026-09-04,1234.56,USD,checkout,payments\n"
       "2026-09-05,2026-09-06,0.44,USD,ledger,\n"
       "2026-09-05,2026-09-06,oops,USD,ledger,\n")
COLUMNS = {"charge_period_start": "Start", "charge_period_end": "End", "billed_cost": "Amount",
           "effective_cost": "Amount", "billing_currency": "Currency"}


def _one(db: Path, sql: str) -> tuple[object, ...]:
    con = store.connect(db)
    try:
        return tuple(con.sql(sql).fetchall()[0])
    finally:
        con.close()


def test_map_preview_save_and_load(app_env: Path) -> None:
    at = page_as("ingest", "fiona").run()
    assert not at.exception, at.exception
    assert any("Upload a file above" in c.value for c in at.caption)
    at.file_uploader(key="ingest_files").upload("saas_sept.csv", CSV.encode(), "text/csv")
    at.run()
    for target, column in COLUMNS.items():
        at.selectbox(key=f"map_col_cost_line_{target}").set_value(column)
    at.selectbox(key="map_col_cost_line_billing_period").set_value("month of charge_period_start")
    at.selectbox(key="map_col_cost_line_provider").set_value("= constant")
    at.run()
    at.text_input(key="map_const_cost_line_provider").input("SaaSCo")
    at.multiselect(key="map_tags").select("Product").select("Squad")
    at.text_input(key="map_name").input("saas sept")
    at.run()
    assert at.text_input(key="map_tagkey_Product").value == "Product"
    at.text_input(key="map_tagkey_Product").input("App")
    at.run()
    assert not at.exception, at.exception
    assert not [w.value for w in at.warning], [w.value for w in at.warning]

    at.button(key="map_preview").click().run()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Would load"], metrics["Would quarantine"]) == ("2", "1")
    preview = next(d.value for d in at.dataframe if "billing_period" in d.value.columns)
    assert preview["billing_period"].tolist() == ["2026-09", "2026-09"]
    assert preview["provider"].tolist() == ["SaaSCo", "SaaSCo"]
    assert preview["tag_application"].tolist() == ["checkout", "ledger"]

    at.text_input(key="map_comment").input("September SaaS bill")
    at.button(key="map_save").click().run()
    assert any("Saved 'saas sept' as version 1." in s.value for s in at.success), [s.value for s in at.success]
    at.button(key="map_save").click().run()
    assert any("unchanged: version 1 stays in force" in i.value for i in at.info)
    assert _one(app_env, "SELECT count(*), max(saved_by), max(comment) FROM mapping_profile_version "
                         "WHERE name = 'saas sept'") == (1, "fiona", "September SaaS bill")

    at.button(key="map_load").click().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Loaded rows"], metrics["Quarantined rows"]) == ("2", "1")
    assert metrics["Billed cost loaded (USD)"] == "1,235.00"
    batch, = _one(app_env, "SELECT batch_id FROM ingest_batch WHERE file_name = 'saas_sept.csv'")
    assert _one(app_env, f"SELECT count(*), sum(billed_cost), max(tags['squad']) FROM cost_line "
                         f"WHERE batch_id = '{batch}'") == (2, Decimal("1235.0000000000"), "payments")

    # a saved profile fills the form again, to change and save its next version
    fresh = page_as("ingest", "fiona").run()
    fresh.file_uploader(key="ingest_files").upload("saas_oct.csv", CSV.encode(), "text/csv")
    fresh.run()
    fresh.selectbox(key="map_start").set_value("saas sept").run()
    assert not fresh.exception, fresh.exception
    assert fresh.text_input(key="map_name").value == "saas sept"
    assert fresh.selectbox(key="map_col_cost_line_billing_period").value == "month of charge_period_start"
    assert fresh.text_input(key="map_const_cost_line_provider").value == "SaaSCo"
    assert fresh.text_input(key="map_tagkey_Product").value == "App"
