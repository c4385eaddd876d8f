"""Disputes and Continuous improvement pages through AppTest on the demo store: an app owner raises a dispute on
their statement line, FinOps sees and accepts it, the owner is notified; the KPI page counts it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.access.users import get_user
from engine.improvement import disputes, kpis
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def test_owner_raises_finops_accepts_kpi_counts(app_db: Path) -> None:
    at = page_as("disputes", "omar").run()
    assert not at.exception
    assert at.selectbox(key="dsp_cc").value == "CC015"
    at.number_input(key="dsp_amount").set_value(12.34)
    at.text_area(key="dsp_reason").input("desk tickets belong to another team")
    at = next(b for b in at.button if b.label == "Raise dispute").click().run()
    assert not at.exception
    assert any("raised" in s.value for s in at.success)

    fin = page_as("disputes", "fiona").run()
    assert not fin.exception
    assert any("raised on CC015" in i.value for i in fin.info)        # FinOps' notification
    fin.text_area(key="dec_answer").input("agreed")
    fin = next(b for b in fin.button if b.label == "Accept").click().run()
    assert not fin.exception and any("Accepted: 12.34" in s.value for s in fin.success)

    con = duckdb.connect(str(app_db))   # the pages hold it read-write in this process
    try:
        fiona = get_user(con, "fiona")
        assert fiona is not None
        accepted = disputes.list_disputes(con, fiona, "accepted")
        assert [d.amount for d in accepted][:1] == [Decimal("12.34")]
        total = kpis.dispute_totals(kpis.dispute_metrics(con, fiona))
        assert total.filter(total["period"] == accepted[0].period)["disputes"][0] >= 1
    finally:
        con.close()
    owner = page_as("disputes", "omar").run()
    assert any("accepted" in i.value for i in owner.info)

    imp = page_as("improvement", "fiona").run()
    assert not imp.exception
    assert next(m for m in imp.metric if m.label == "Disputes").value == "1"


def test_app_owner_cannot_open_improvement_page() -> None:
    at = page_as("improvement", "omar").run()
    assert not at.exception
    assert not at.title or at.title[0].value != "Continuous improvement"
