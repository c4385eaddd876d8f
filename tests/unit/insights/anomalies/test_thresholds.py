"""Thresholds per scope: stricter for one cost centre, looser for another, versioned and audited; detection uses
the most specific threshold of each scope and the defaults elsewhere."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from engine.errors import AccessDenied, InputError
from engine.insights.anomalies import thresholds, workflow
from engine.insights.anomalies.detectors import DEFAULT_PARAMS
from engine.insights.anomalies.thresholds import Threshold
from tests.unit.insights.anomalies.test_workflow import EVE, FIONA, WEEK, store  # noqa: F401 - the fixture

__all__ = ["store"]


def _flagged(con: duckdb.DuckDBPyConnection, kind: str) -> set[str]:
    return set(workflow.list_anomalies(con, FIONA, scope_kind=kind)["scope_id"].to_list())


def test_a_stricter_floor_for_one_cost_centre_silences_only_it(store: duckdb.DuckDBPyConnection) -> None:  # noqa: F811
    default = workflow.scan(store, FIONA, *WEEK, ("cost_center",))
    assert set(default["scope_id"].to_list()) == {"CC-WEB", "CC-DATA"}      # both spikes pass the defaults
    data_excess = max(default.filter(pl.col("scope_id") == "CC-DATA")["excess"].to_list())
    version = thresholds.set_threshold(store, FIONA, "cost_center", "CC-DATA",
                                       Threshold(floor=float(data_excess) + 1), "batch jobs run big on Thursdays")
    assert version == 1 and thresholds.in_force(store)[("cost_center", "CC-DATA")].floor == float(data_excess) + 1
    workflow.detect(store, *WEEK, "scheduler", levels=("cost_center",))
    assert _flagged(store, "cost_center") == {"CC-WEB"}
    event = store.execute("SELECT actor, detail->>'$.reason', detail->>'$.scope' FROM audit_event "
                          "WHERE action = 'anomaly.thresholds'").fetchall()
    assert event == [("fiona", "batch jobs run big on Thursdays", '["cost_center","CC-DATA"]')]


def test_a_looser_k_for_one_scope_flags_what_the_defaults_miss(store: duckdb.DuckDBPyConnection) -> None:  # noqa: F811
    day = date(2026, 3, 13)
    store.execute("UPDATE cost_line SET effective_cost = effective_cost + 30 WHERE resource_id = 'db-data' AND "
                  "CAST(charge_period_start AS DATE) = ?", [day])     # +30: z ≈ 3.1, under k = 3.5 and $50
    assert workflow.scan(store, FIONA, day, day, ("cost_center",)).filter(
        pl.col("scope_id") == "CC-DATA").is_empty()                               # below the default k = 3.5
    thresholds.set_threshold(store, FIONA, "cost_center", "CC-DATA", Threshold(k=1.0, floor=10.0),
                             "critical data platform")
    found = workflow.detect(store, day, day, "scheduler", levels=("cost_center",))
    assert found.created and _flagged(store, "cost_center") == {"CC-DATA"}
    # the default still applies to the other scopes: CC-WEB had nothing unusual that day
    assert "CC-WEB" not in _flagged(store, "cost_center")


def test_thresholds_are_versioned_and_guarded(store: duckdb.DuckDBPyConnection) -> None:  # noqa: F811
    thresholds.set_threshold(store, FIONA, "cost_center", "*", Threshold(floor=75.0), "raise the floor everywhere")
    thresholds.set_threshold(store, FIONA, "cost_center", "CC-WEB", Threshold(k=5.0), "web is spiky")
    thresholds.clear_threshold(store, FIONA, "cost_center", "CC-WEB", "web settled")
    assert thresholds.current_version(store) == 3
    assert set(thresholds.in_force(store, 2)) == {("cost_center", "*"), ("cost_center", "CC-WEB")}
    assert set(thresholds.in_force(store)) == {("cost_center", "*")}               # version 3
    assert thresholds.history(store)["version"].to_list() == [3, 2, 1]
    loose, change = thresholds.loosest(store, DEFAULT_PARAMS)
    assert loose.floor == DEFAULT_PARAMS.floor and change == 0.3                   # 75 is stricter than 50
    with pytest.raises(AccessDenied):
        thresholds.set_threshold(store, EVE, "cost_center", "CC-WEB", Threshold(), "execs do not tune")
    with pytest.raises(InputError, match="say why"):
        thresholds.set_threshold(store, FIONA, "cost_center", "CC-WEB", Threshold(), "")
    with pytest.raises(InputError, match="k must be a positive"):
        Threshold(k=0)
    with pytest.raises(InputError, match="scope kind"):
        thresholds.set_threshold(store, FIONA, "planet", "x", Threshold(), "no")
    assert Decimal(str(thresholds.in_force(store)[("cost_center", "*")].floor)) == Decimal("75.0")

