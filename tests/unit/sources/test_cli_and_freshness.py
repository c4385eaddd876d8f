"""`python -m engine sources list|run` against a real store file and server; freshness, next run and the polling
cost vs freshness recommendation from recorded runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from engine import store
from engine.__main__ import main
from engine.sources import config, freshness, runner
from tests.unit.sources.api_server import ApiServer
from tests.unit.sources.conftest import FINOPS


def test_cli_runs_one_source_then_lists_it_fresh(tmp_path: Path, api: ApiServer,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "cli.duckdb"
    con = store.connect(db)
    config.add_source(con, FINOPS, {"name": "snipe", "kind": "snipeit", "endpoint": api.url,
                                    "secret_env": "SRC_TOKEN", "interval_minutes": 60,
                                    "freshness_target_minutes": 240, "options": {"page_size": 2}})
    con.close()
    monkeypatch.setenv("SRC_TOKEN", "test-token")
    assert main(["sources", "run", "--db", str(db), "--source", "snipe"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("snipe: loaded — 3 rows loaded, 2 calls (0 retries)")
    assert main(["sources", "run", "--db", str(db), "--due"]) == 0          # ran a moment ago: not due
    assert "no source is due" in capsys.readouterr().out
    assert main(["sources", "list", "--db", str(db)]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("snipe\tsnipeit\tfresh (0 min / target 240 min)\trows 3\tnext ")
    monkeypatch.setenv("SRC_TOKEN", "wrong")
    assert main(["sources", "run", "--db", str(db), "--source", "snipe"]) == 1


def test_freshness_next_run_and_recommendation(con: duckdb.DuckDBPyConnection, api: ApiServer) -> None:
    src = config.add_source(con, FINOPS, {"name": "cmdb", "kind": "servicenow", "endpoint": api.url,
                                          "secret_env": "SRC_TOKEN", "interval_minutes": 15,
                                          "freshness_target_minutes": 240,
                                          "options": {"page_size": 10, "api_limit_per_day": 1000}})
    assert runner.next_run_at(src) == src.created_at                       # never run: due at once
    assert freshness.freshness(con, src).state == "never"
    res = runner.run_source(con, "cmdb", FINOPS, environ={"SRC_TOKEN": "test-token"}, isolate=False)
    assert res.status == "loaded" and res.calls == 5
    src = config.get_source(con, "cmdb")
    assert src.last_attempt_at is not None
    assert runner.next_run_at(src) == src.last_attempt_at + timedelta(minutes=15)
    f = freshness.freshness(con, src)
    assert f.state == "fresh" and f.rows_total == 40
    assert (f.calls_per_run, f.calls_per_day, f.rows_per_call) == (5.0, 5 * 96, 8.0)
    # the slowest cadence meeting 240 min is ~239 min; 10 % of 1000 calls/day at 5 calls a run allows every 73 min
    assert 230 <= f.recommended_minutes <= 240
    assert f.recommendation.startswith("every 15 min polls more often than the target needs")
    paused = config.set_paused(con, FINOPS, "cmdb", True)
    assert runner.next_run_at(paused) is None and runner.due(con) == []
    assert [r[0] for r in con.execute("SELECT action FROM audit_event WHERE entity = 'source' ORDER BY seq"
                                      ).fetchall()] == ["source_add", "source_run", "source_pause"]


def test_a_token_is_refused_as_a_variable_name(con: duckdb.DuckDBPyConnection) -> None:
    from engine.errors import InputError

    with pytest.raises(InputError, match="secret_env"):
        config.add_source(con, FINOPS, {"name": "x", "kind": "snipeit", "endpoint": "https://a.example",
                                        "secret_env": "sk-live-123abc"})
    with pytest.raises(InputError, match="http"):
        config.add_source(con, FINOPS, {"name": "y", "kind": "snipeit", "endpoint": "ftp://a.example"})
