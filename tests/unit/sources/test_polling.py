"""Polling against a real HTTP server on localhost serving the real Snipe-IT, Jamf, ServiceNow and OpenCost
responses, paginated by the server: first poll loads everything, a second loads nothing new, a changed record
arrives as an update with its lifecycle event, 429/500 are retried, a server dying mid-run changes nothing."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import duckdb

from engine import store
from engine.sources import config, runner
from engine.sources.http import Limits
from tests.unit.sources.api_server import ApiServer
from tests.unit.sources.conftest import ENV, FAST, FINOPS

DATA_TABLES = ("asset", "driver_value", "cost_line", "ingest_batch", "quarantine_row", "asset_lifecycle_event")


def _add(con: duckdb.DuckDBPyConnection, api: ApiServer, kind: str, **options: Any) -> str:
    config.add_source(con, FINOPS, {"name": f"{kind}-test", "kind": kind, "endpoint": api.url,
                                    "secret_env": "SRC_TOKEN", "options": options})
    return f"{kind}-test"


def _run(con: duckdb.DuckDBPyConnection, name: str, limits: Limits = FAST) -> runner.RunResult:
    return runner.run_source(con, name, FINOPS, limits=limits, environ=ENV, isolate=False)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    return con.execute(sql, params or []).fetchall()[0][0]


def test_snipeit_first_poll_loads_all_pages_second_nothing_then_a_change_is_an_update(
        con: duckdb.DuckDBPyConnection, api: ApiServer) -> None:
    name = _add(con, api, "snipeit", page_size=1)
    first = _run(con, name)
    assert first.status == "loaded", first.message
    assert (first.rows_fetched, first.rows_loaded, first.calls) == (3, 3, 3)        # three pages of one
    assert _count(con, "SELECT count(*) FROM asset WHERE source = 'snipeit'") == 3
    assert config.get_source(con, name).cursor == "2023-09-06 09:44:53"            # newest updated_at

    second = _run(con, name)
    assert (second.status, second.rows_fetched, second.calls) == ("nothing_new", 0, 1)
    assert _count(con, "SELECT count(*) FROM ingest_batch") == 1

    changed = next(r for r in api.snipeit if r["asset_tag"] == "test2")
    changed["status_label"] = {"id": 3, "name": "Archived", "status_type": "archived", "status_meta": "archived"}
    changed["updated_at"] = {"datetime": "2023-09-07 10:00:00", "formatted": "2023-09-07 10:00 AM"}
    third = _run(con, name)
    assert (third.status, third.rows_fetched, third.rows_loaded) == ("loaded", 1, 1), third.message
    assert _count(con, "SELECT count(*) FROM asset WHERE source = 'snipeit'") == 3   # an update, not a new asset
    assert _count(con, "SELECT lifecycle_status FROM asset WHERE asset_tag = 'TEST2' OR asset_tag = 'test2'") \
        == "retired"
    events = con.execute("SELECT event, field, before_value, after_value FROM asset_lifecycle_event "
                         "WHERE run_id = ?", [third.run_id]).fetchall()
    assert events == [("decommissioned", "lifecycle_status", "in_use", "retired")]
    assert config.get_source(con, name).cursor == "2023-09-07 10:00:00"


def test_servicenow_pages_with_429_and_500_retried_then_nothing_new(con: duckdb.DuckDBPyConnection,
                                                                   api: ApiServer) -> None:
    name = _add(con, api, "servicenow", page_size=10)
    api.fail_next(429, retry_after="0")
    api.fail_next(500)
    first = _run(con, name)
    assert first.status == "loaded", first.message
    assert (first.rows_fetched, first.rows_loaded, first.retries) == (40, 40, 2)
    assert first.calls == 2 + 5                    # two retried answers, four full pages and the empty fifth
    assert _count(con, "SELECT count(*) FROM asset WHERE source = 'servicenow'") == 40
    cursor = config.get_source(con, name).cursor
    assert cursor == "2024-07-16 18:56:28"
    second = _run(con, name)
    assert (second.status, second.rows_fetched) == ("nothing_new", 0)
    assert api.requests[-1].count("sys_updated_on%3E2024-07-16") == 1     # asked only for changes since the cursor


def test_a_server_that_dies_mid_run_leaves_the_store_unchanged_and_the_next_run_completes(
        con: duckdb.DuckDBPyConnection, api: ApiServer) -> None:
    name = _add(con, api, "servicenow", page_size=10)
    before = {t: v for t, v in store.table_checksums(con).items() if t in DATA_TABLES}
    api.die_after = 2                               # two pages served, then the connection drops and the port closes
    failed = _run(con, name)
    assert failed.status == "failed"
    assert "gave up after" in failed.message and "/api/now/table/cmdb_ci_server" in failed.message
    assert {t: v for t, v in store.table_checksums(con).items() if t in DATA_TABLES} == before
    src = config.get_source(con, name)
    assert src.cursor is None and src.last_success_at is None and src.last_error == failed.message
    assert _count(con, "SELECT status FROM source_run WHERE run_id = ?", [failed.run_id]) == "failed"

    api.start()                                     # back on the same port
    done = _run(con, name)
    assert (done.status, done.rows_loaded) == ("loaded", 40), done.message
    assert config.get_source(con, name).last_error is None


def test_jamf_classic_lists_then_fetches_each_changed_computer(con: duckdb.DuckDBPyConnection,
                                                               api: ApiServer) -> None:
    name = _add(con, api, "jamf")
    first = _run(con, name)
    assert (first.status, first.rows_loaded, first.calls) == ("loaded", 1, 2), first.message
    assert _count(con, "SELECT serial FROM asset WHERE source = 'jamf'") == "C02T705EGTF1"
    second = _run(con, name)
    assert (second.status, second.calls) == ("nothing_new", 1)      # the listing only: no computer changed


def test_opencost_polls_the_window_since_the_cursor(con: duckdb.DuckDBPyConnection, api: ApiServer) -> None:
    name = _add(con, api, "opencost", start="2023-01-18T00:00:00Z")
    first = _run(con, name)
    assert first.status == "loaded", first.message
    assert first.rows_loaded == 4
    drivers = dict(con.execute("SELECT target_id, quantity FROM driver_value WHERE driver = 'cpu_core_hours' "
                               "ORDER BY 1").fetchall())
    assert round(drivers["kube-system"], 6) == 21.588536
    cursor = config.get_source(con, name).cursor
    assert parse_qs(urlparse(api.requests[0]).query)["window"] == [f"2023-01-18T00:00:00Z,{cursor}"]
    second = _run(con, name)
    assert (second.status, second.rows_loaded) == ("nothing_new", 0)
    for later in api.requests[1:]:                 # within the same hour there is no window left to ask for
        assert parse_qs(urlparse(later).query)["window"][0].startswith(f"{cursor},")


def test_a_refused_credential_fails_at_once_and_says_why(con: duckdb.DuckDBPyConnection, api: ApiServer) -> None:
    name = _add(con, api, "snipeit")
    res = runner.run_source(con, name, FINOPS, limits=FAST, environ={"SRC_TOKEN": "wrong"}, isolate=False)
    assert res.status == "failed" and res.calls == 1
    assert "refused the credential: HTTP 401" in res.message
    missing = runner.run_source(con, name, FINOPS, limits=FAST, environ={}, isolate=False)
    assert missing.status == "failed" and missing.calls == 0
    assert "SRC_TOKEN is not set" in missing.message


def test_a_long_retry_after_ends_the_run_within_its_bound(con: duckdb.DuckDBPyConnection, api: ApiServer) -> None:
    name = _add(con, api, "snipeit")
    api.fail_next(429, retry_after="3600")
    res = _run(con, name)
    assert res.status == "failed" and res.seconds < 5
    assert "asked to wait 3600 s" in res.message
    api.fail_next(503, times=50)
    bounded = _run(con, name, Limits(max_seconds=0.5, attempts=50, backoff_initial=0.1, backoff_max=0.1,
                                     jitter=0.0))
    assert bounded.status == "failed" and bounded.seconds < 3 and bounded.calls < 50
    assert _count(con, "SELECT count(*) FROM asset") == 0


def test_the_uploaded_and_the_polled_row_are_the_same(con: duckdb.DuckDBPyConnection, api: ApiServer) -> None:
    from engine.ingest.pipeline import ingest_file
    from tests.unit.sources.api_server import sample_path

    uploaded = ingest_file(con, sample_path("snipeit_api_v1_hardware_jupiterone.json"), isolate=False)
    assert uploaded.status == "loaded"
    rows_upload = con.execute("SELECT * EXCLUDE (batch_id) FROM asset ORDER BY asset_id").fetchall()
    name = _add(con, api, "snipeit")
    polled = _run(con, name)
    assert polled.status == "loaded"
    assert con.execute("SELECT * EXCLUDE (batch_id) FROM asset ORDER BY asset_id").fetchall() == rows_upload
