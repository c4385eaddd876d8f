"""The impact of approving a rule version, on the demo store: what `impact` shows per business unit and cost centre
is what posting each version through the real month close gives, to the cent, and both sides conserve."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import polars as pl
import pytest

from engine.access.users import get_user
from engine.allocation.impact import impact, latest_period
from engine.allocation.rollup import by_business_unit, run_by_cost_center
from engine.allocation.runs import run_allocation
from engine.errors import AccessDenied
from engine.rules import model, versions

NAME = "demo_default"


def _pending(con: duckdb.DuckDBPyConnection) -> int:
    """Fiona proposes: IT overhead 30/70 headcount/revenue and the platform shared by storage instead of CPU."""
    period = latest_period(con)
    body = versions.as_of(con, NAME, period).rule_set.body()
    for step in body["steps"]:
        if step["id"] == "it_overhead":
            step["method"]["weights"] = {"headcount": 0.3, "revenue": 0.7}
        if step["id"] == "k8s_platform":
            step["method"]["driver"] = "storage_gb_month"
    v = versions.create_draft(con, model.from_data(body), "fiona", "overhead by revenue", "2026-11")
    versions.submit(con, NAME, v, "fiona")
    return v


def _posted(con: duckdb.DuckDBPyConnection, period: str, version: int) -> pl.DataFrame:
    summary = run_allocation(con, period, NAME, version=version, actor="fiona")
    return run_by_cost_center(con, summary.run_key)


def _as_dict(frame: pl.DataFrame, key: str, value: str) -> dict[str | None, Decimal]:
    return {k: Decimal(v) for k, v in frame.select(key, value).iter_rows()}


def test_impact_per_business_unit_equals_posting_each_version(demo_con: duckdb.DuckDBPyConnection) -> None:
    v = _pending(demo_con)
    admin = get_user(demo_con, "admin")
    result = impact(demo_con, NAME, v, admin)
    period = latest_period(demo_con)
    assert result.period == period == "2026-10"
    assert result.current is not None and result.current.version == 1 and result.proposed.version == v

    current = _posted(demo_con, period, 1)
    proposed = _posted(demo_con, period, v)   # a pending version can be run by number; approval is not needed
    assert _as_dict(result.by_business_unit, "business_unit_id", "current") == _as_dict(
        by_business_unit(current), "business_unit_id", "amount")
    assert _as_dict(result.by_business_unit, "business_unit_id", "proposed") == _as_dict(
        by_business_unit(proposed), "business_unit_id", "amount")
    assert _as_dict(result.by_cost_center, "cost_center_id", "current") == _as_dict(
        current, "cost_center_id", "amount")
    assert _as_dict(result.by_cost_center, "cost_center_id", "proposed") == _as_dict(
        proposed, "cost_center_id", "amount")
    deltas = result.by_business_unit.select((pl.col("proposed") - pl.col("current") == pl.col("delta")).all())
    assert deltas.item()

    # the change moves money between business units, never in or out
    assert result.by_business_unit["delta"].abs().max() > Decimal(1000)
    assert sum(result.by_business_unit["delta"], Decimal(0)) == 0
    # both sides conserve: every source pool to the cent, the same total, equal to what month close posts
    assert result.current.pools_off == () and result.proposed.pools_off == ()
    assert result.current.posted_cents == result.current.pool_cents
    assert result.proposed.posted_cents == result.proposed.pool_cents
    assert result.same_total and result.conserves
    posted_total = demo_con.sql("SELECT total_out FROM allocation_run WHERE period = ? AND rule_version = ?"
                                " AND status = 'posted'", params=[period, v]).fetchall()[0][0]
    assert result.total_proposed == result.total_current == Decimal(posted_total)
    # names, not ids; the unallocated line is named
    names = dict(result.by_business_unit.select("business_unit_id", "business_unit").iter_rows())
    assert names[None] == "Unallocated" and names["BU01"] == "Retail"


def test_impact_writes_nothing(demo_con: duckdb.DuckDBPyConnection) -> None:
    v = _pending(demo_con)
    before = demo_con.sql("SELECT (SELECT count(*) FROM allocation_run), (SELECT count(*) FROM allocation_result),"
                          " (SELECT count(*) FROM audit_event)").fetchall()
    impact(demo_con, NAME, v, get_user(demo_con, "fiona"))
    after = demo_con.sql("SELECT (SELECT count(*) FROM allocation_run), (SELECT count(*) FROM allocation_result),"
                         " (SELECT count(*) FROM audit_event)").fetchall()
    assert before == after


def test_the_version_in_force_against_itself_changes_nothing(demo_con: duckdb.DuckDBPyConnection) -> None:
    result = impact(demo_con, NAME, 1, get_user(demo_con, "audrey"))
    assert (result.by_business_unit["delta"] == 0).all() and result.conserves


def test_app_owners_and_nobody_are_refused(demo_con: duckdb.DuckDBPyConnection) -> None:
    v = _pending(demo_con)
    with pytest.raises(AccessDenied):
        impact(demo_con, NAME, v, get_user(demo_con, "omar"))
    with pytest.raises(AccessDenied):
        impact(demo_con, NAME, v, None)
