"""FinOps tunes a detector threshold on the Anomalies page; executives do not see the form."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import store
from engine.insights.anomalies import thresholds
from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def test_finops_saves_a_threshold_and_executives_cannot(app_db: Path) -> None:
    at = page_as("anomalies", "fiona").run()
    assert not at.exception
    at.selectbox(key="thr_kind").set_value("service")
    at.text_input(key="thr_scope").input("Amazon EC2")
    at.number_input(key="thr_floor").set_value(500.0)
    at.text_input(key="thr_reason").input("EC2 batch spend is planned")
    next(b for b in at.button if b.label == "Save thresholds (new version)").click().run()
    assert not at.exception and not at.error
    con = store.connect(app_db)
    try:
        assert thresholds.in_force(con)[("service", "Amazon EC2")].floor == 500.0
        assert con.execute("SELECT actor FROM audit_event WHERE action = 'anomaly.thresholds'").fetchall() == [
            ("fiona",)]
    finally:
        con.close()
    eve = page_as("anomalies", "eve").run()
    assert not eve.exception and not any("Detector thresholds" in e.label for e in eve.expander)
