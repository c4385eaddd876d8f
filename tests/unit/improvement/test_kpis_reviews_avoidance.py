"""Dispute rate and time to resolve on a crafted history; a rule not reviewed for 90 days is flagged and a review
clears it; a decommissioned asset's avoided cost is its remaining monthly depreciation plus its resources' last
run-rate; KPI bands; statement views; cost to operate."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from engine.allocation.runs import run_allocation
from engine.errors import AccessDenied, InputError
from engine.improvement import avoidance, benchmarks, disputes, kpis, operating, reviews
from engine.rules import versions
from tests.unit.allocation_data import add_lines
from tests.unit.improvement.helpers import FEB, JAN, MAR, setup, user

D = Decimal
T0 = datetime(2026, 2, 2, 9, 0)


def test_dispute_rate_and_time_to_resolve_on_a_crafted_history(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    run_allocation(con, JAN, "desk")      # A 600.00 (BU1), B 400.00 (BU2)
    omar, fiona, fred = user(con, "omar"), user(con, "fiona"), user(con, "fred")
    line = disputes.lines(con, omar, JAN, "A").row(0, named=True)
    ref = disputes.LineRef(line["step"], line["step_name"], line["source_pool"], line["app_id"])
    a = disputes.raise_dispute(con, omar, JAN, "A", ref, "30.00", "one", now=T0)
    b = disputes.raise_dispute(con, omar, JAN, "A", ref, "6.00", "two", now=T0)
    c = disputes.raise_dispute(con, fred, JAN, "B", ref, "4.00", "three", now=T0)
    disputes.accept(con, fiona, a.dispute_id, "yes", now=T0 + timedelta(days=2))
    disputes.reject(con, fiona, b.dispute_id, "no", now=T0 + timedelta(days=5, hours=12))
    m = {r["business_unit_id"]: r for r in kpis.dispute_metrics(con, fiona).iter_rows(named=True)}
    assert m["BU1"]["charged"] == D("600.00") and m["BU1"]["amount_disputed"] == D("36.00")
    assert m["BU1"]["dispute_rate_pct"] == pytest.approx(6.0)                  # 36 / 600
    assert m["BU1"]["mean_days_to_resolve"] == pytest.approx(3.75)             # (2 + 5.5) / 2
    assert m["BU1"]["max_days_to_resolve"] == pytest.approx(5.5)
    assert (m["BU1"]["accepted"], m["BU1"]["rejected"], m["BU1"]["open"]) == (1, 1, 0)
    assert m["BU2"]["dispute_rate_pct"] == pytest.approx(1.0) and m["BU2"]["open"] == 1  # 4 / 400, unresolved
    assert m["BU2"]["mean_days_to_resolve"] is None
    total = kpis.dispute_totals(kpis.dispute_metrics(con, fiona)).row(0, named=True)
    assert total["dispute_rate_pct"] == pytest.approx(4.0)                      # 40 / 1000
    assert total["mean_days_to_resolve"] == pytest.approx(3.75)
    # an app owner sees only their business unit's row (their cost centres)
    assert kpis.dispute_metrics(con, omar)["business_unit_id"].to_list() == ["BU1"]
    assert c.status == "open"


def test_rule_not_reviewed_for_90_days_is_flagged_and_a_review_clears_it(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    approved = versions.as_of(con, "desk", JAN).created_at
    fresh = reviews.overview(con, now=approved + timedelta(days=89))
    assert not fresh["flagged"].any()
    late = approved + timedelta(days=90)
    st = reviews.overview(con, now=late)
    assert st.select("subject_kind", "pool", "flagged").rows() == [("rule_set", None, True), ("pool", "desk", True)]
    fiona = user(con, "fiona")
    with pytest.raises(AccessDenied):
        reviews.review(con, user(con, "omar"), "desk", "split", "keep")
    reviews.review(con, fiona, "desk", "60/40 split against headcount", "keep", pool="desk", now=late)
    after = {r["pool"]: r["flagged"] for r in reviews.overview(con, now=late).iter_rows(named=True)}
    assert after == {None: True, "desk": False}
    r = reviews.review(con, fiona, "desk", "whole rule set", "change", now=late)
    assert r.draft_version == 2 and versions.get(con, "desk", 2).status == "draft"
    assert not reviews.overview(con, now=late)["flagged"].any()
    audited = con.execute("SELECT detail->>'decision' FROM audit_event WHERE action = 'rule.review' ORDER BY seq"
                          ).fetchall()
    assert [a[0] for a in audited] == ["keep", "change"]


def test_decommissioned_asset_avoids_remaining_depreciation_plus_last_run_rate(con: duckdb.DuckDBPyConnection
                                                                             ) -> None:
    setup(con)
    # 3,600.00 over 36 months straight line from 2025-01: 100.00 a month until 2027-12
    con.execute("INSERT INTO asset (asset_id, serial, class, cost_center_id, purchase_date, cost, residual,"
                " useful_life_months, depreciation_method, depreciation_convention) VALUES"
                " ('SRV-1', 'SN-9', 'server', 'A', DATE '2025-01-15', 3600, 0, 36, 'straight_line', 'full_month')")
    add_lines(con, [{"resource_id": "SRV-1", "effective_cost": "12.345"},
                    {"resource_id": "SN-9", "effective_cost": "7.655"}], period=FEB)
    add_lines(con, [{"resource_id": "SRV-1", "effective_cost": "99"}], period=JAN)
    d = avoidance.derive_decommission(con, "SRV-1", MAR)
    assert (d.depreciation, d.run_rate, d.run_rate_period) == (D("100.00"), D("20.00"), FEB)
    fiona = user(con, "fiona")
    avoidance.record_decommission(con, fiona, "SRV-1", MAR)
    got = avoidance.avoided(con, fiona, "2026-05")
    assert got.select("period", "cost_center_id", "avoided").rows() == [
        (p, "A", D("120.00")) for p in ("2026-03", "2026-04", "2026-05")]
    # a fully depreciated asset avoids only its run-rate
    con.execute("UPDATE asset SET purchase_date = DATE '2020-01-01'")
    assert avoidance.derive_decommission(con, "SRV-1", MAR).before == D("20.00")


def test_moved_cost_is_not_avoided_cost(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    run_allocation(con, JAN, "desk")
    line = disputes.lines(con, user(con, "omar"), JAN, "A").row(0, named=True)
    d = disputes.raise_dispute(con, user(con, "omar"), JAN, "A", disputes.LineRef(
        line["step"], line["step_name"], line["source_pool"]), "50", "B's")
    disputes.accept(con, user(con, "fiona"), d.dispute_id, "ok", assign_to="B")
    run_allocation(con, FEB, "desk")
    assert avoidance.moved_between_teams(con, FEB) == {"increases": D("50.00"), "decreases": D("50.00"),
                                                       "net": D("0.00"), "moved": D("50.00")}
    assert avoidance.avoided(con, user(con, "fiona"), FEB).is_empty()


def test_bands_statement_views_and_cost_to_operate(con: duckdb.DuckDBPyConnection) -> None:
    setup(con)
    run_allocation(con, JAN, "desk")
    fiona, omar = user(con, "fiona"), user(con, "omar")
    band = {b.kpi: b for b in benchmarks.bands(con)}["tag_coverage_pct"]
    assert (band.good, band.fair, band.rate(85), band.rate(60), band.rate(10)) == (
        80, 50, "on target", "near target", "off target")
    with pytest.raises(InputError):
        benchmarks.set_band(con, fiona, "unallocated_pct", 30, 10)
    edited = benchmarks.set_band(con, fiona, "unallocated_pct", 5, 10)
    assert (edited.good, edited.fair, edited.edited_by) == (5, 10, "fiona")
    assert benchmarks.measures(con, JAN)["unallocated_pct"] == 0.0

    assert kpis.statements_opened(con).rows() == [(JAN, 1, 0, 0.0)]
    assert kpis.record_view(con, omar, JAN, "A") and not kpis.record_view(con, omar, JAN, "A")
    assert kpis.statements_opened(con).rows() == [(JAN, 1, 1, 100.0)]

    operating.enter(con, fiona, JAN, "people_hours", "6", "80")
    operating.enter(con, fiona, JAN, "compute", "1", "20.00")
    operating.enter(con, fiona, JAN, "manual_step", "4")
    c = operating.cost_to_operate(con, JAN)
    assert (c.people_cost, c.compute, c.total, c.allocated, c.runs) == (D("480.00"), D("20.00"), D("500.00"),
                                                                       D("1000.00"), 1)
    assert c.share_pct == pytest.approx(50.0) and c.run_seconds > 0
    assert dict(c.opportunities)["Manual steps per close"] == 4
