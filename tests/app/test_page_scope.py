"""Scope and basis and Plan vs actual pages: real scripts, real demo store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import page_as

pytestmark = pytest.mark.usefixtures("app_env")


def test_finops_saves_a_pools_basis_and_the_page_shows_the_close_method(app_db: Path) -> None:
    at = page_as("scope", "fiona").run()
    assert not at.exception
    assert [m.value for m in at.metric if m.label == "Granularity warnings"] != ["0"]
    assert any("cpu_hours covers 25 of 64 applications" in w.value for w in at.warning)
    at.selectbox(key="scope_pool").set_value("it_overhead").run()
    form = next(s for s in at.selectbox if s.label == "Basis")
    form.set_value("headcount")
    at.text_input(key="scope_note_it_overhead").set_value("service desk by people")
    next(b for b in at.button if b.label == "Save pool").click().run()
    assert not at.exception
    assert any("Saved scope v1 of demo_default" in s.value for s in at.success)
    table = next(d for d in at.dataframe if "close_method" in d.value.columns).value
    row = table[table["name"] == "IT service desk and architecture"].iloc[0]
    assert row["rules_method"].startswith("weighted headcount 60 %")
    assert row["close_method"] == "driver headcount → cost_center"


def test_auditor_reads_without_editing() -> None:
    at = page_as("scope", "audrey").run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Save pool"]
    plan_page = page_as("planning", "audrey").run()
    assert not plan_page.exception
    assert not plan_page.get("file_uploader")
