"""The Sources page: real AppTest on the demo store; a FinOps user adds a polled Snipe-IT source pointing at a real
localhost server over the real sample, runs it, pauses it; figures checked against the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import store
from tests.app.conftest import page_as
from tests.unit.sources.api_server import ApiServer

pytestmark = pytest.mark.usefixtures("app_env")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiServer]:
    monkeypatch.setenv("APPORTION_SOURCES_IN_APP", "false")      # no scheduler thread racing the button
    monkeypatch.setenv("SNIPE_TEST_TOKEN", "test-token")
    server = ApiServer()
    yield server
    server.stop()


def test_finops_adds_runs_and_pauses_a_polled_source(app_db: Path, api: ApiServer) -> None:
    at = page_as("sources", "fiona").run()
    assert not at.exception and not at.error
    at.text_input(key="sources_new_name").input("snipe-apptest")
    at.selectbox(key="sources_new_kind").select("snipeit")
    at.text_input(key="sources_new_endpoint").input(api.url)
    at.text_input(key="sources_new_secret").input("SNIPE_TEST_TOKEN")
    at.number_input(key="sources_new_page").set_value(2)
    at.button[-1].click().run()                                      # the form's submit
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="sources_pick").value == "snipe-apptest"
    table = at.dataframe[0].value
    assert list(table["source"]) == ["snipe-apptest"] and list(table["freshness"]) == ["never"]

    at.button(key="sources_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("loaded: 3 rows loaded, 2 calls" in s.value for s in at.success)
    con = store.connect(app_db)
    try:
        assert con.execute("SELECT count(*) FROM asset WHERE source = 'snipeit'").fetchall()[0][0] == 3
        row = con.execute("SELECT rows_loaded, calls, status FROM source_run WHERE source_name = 'snipe-apptest'"
                          ).fetchall()
        assert row == [(3, 2, "loaded")]
        actions = [r[0] for r in con.execute("SELECT action FROM audit_event WHERE entity = 'source' "
                                             "ORDER BY 1").fetchall()]
    finally:
        con.close()
    assert actions == ["source_add", "source_run"]
    table = at.dataframe[0].value
    assert list(table["freshness"]) == ["fresh"] and list(table["rows_total"]) == [3]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Fresh"] == "1" and metrics["Rows loaded"] == "3"

    at.button(key="sources_pause").click().run()
    assert not at.exception
    con = store.connect(app_db)
    try:
        assert con.execute("SELECT paused FROM source WHERE name = 'snipe-apptest'").fetchall() == [(True,)]
    finally:
        con.close()


def test_other_roles_do_not_get_the_page(api: ApiServer) -> None:
    at = page_as("sources", "eve").run()
    assert not at.exception
    assert not at.button and not at.dataframe
