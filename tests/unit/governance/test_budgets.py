"""Budgets: proposed from the posted history, set with a reason (audited), and a month close whose charge crosses a
threshold of a cost centre's budget raises a flag in the anomaly workflow."""

from __future__ import annotations

import statistics
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from engine.access.users import get_user
from engine.allocation.runs import run_allocation
from engine.errors import AccessDenied, InputError
from engine.governance import budgets
from engine.insights.anomalies import workflow

PERIOD = "2026-10"


def _user(con: duckdb.DuckDBPyConnection, name: str):  # noqa: ANN202
    u = get_user(con, name)
    assert u is not None
    return u


def _charges(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, Decimal]:
    key = con.execute("SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted' ORDER BY started_at"
                      " DESC LIMIT 1", [period]).fetchall()[0][0]
    return {cc: a for cc, a in con.execute("SELECT cost_center_id, sum(posted_amount) FROM allocation_result WHERE"
                                           " run_key = ? AND cost_center_id IS NOT NULL GROUP BY 1", [key]).fetchall()}


def test_a_proposal_is_the_median_of_the_posted_months_plus_growth(demo_con: duckdb.DuckDBPyConnection) -> None:
    prior = ["2026-08", "2026-09"]
    history = {p: _charges(demo_con, p) for p in prior}
    proposal = budgets.propose(demo_con, PERIOD, growth=Decimal("0.1"), months=2)
    for cc, proposed in proposal.select("cost_center_id", "proposed").iter_rows():
        median = Decimal(statistics.median([history[p].get(cc, Decimal(0)) for p in prior]))
        assert proposed == (median * Decimal("1.1")).quantize(Decimal("0.01"))
    assert proposal.height == len(set(history["2026-08"]) | set(history["2026-09"]))
    with pytest.raises(InputError, match="nothing to propose"):
        budgets.propose(demo_con, "2020-01")


def test_setting_budgets_is_guarded_and_audited(demo_con: duckdb.DuckDBPyConnection) -> None:
    fiona = _user(demo_con, "fiona")
    with pytest.raises(AccessDenied):
        budgets.set_budgets(demo_con, _user(demo_con, "eve"), PERIOD, {"CC001": Decimal(1)}, "x")
    with pytest.raises(InputError, match="not cost centres"):
        budgets.set_budgets(demo_con, fiona, PERIOD, {"CC-NOPE": Decimal(1)}, "x")
    with pytest.raises(InputError, match="negative"):
        budgets.set_budgets(demo_con, fiona, PERIOD, {"CC001": Decimal(-1)}, "x")
    with pytest.raises(InputError, match="say why"):
        budgets.set_budgets(demo_con, fiona, PERIOD, {"CC001": Decimal(1)}, "")
    assert budgets.set_budgets(demo_con, fiona, PERIOD, {"CC001": Decimal("1234.5")}, "Q4 plan") == 1
    assert demo_con.execute("SELECT amount FROM budget WHERE period = ? AND cost_center_id = 'CC001'",
                            [PERIOD]).fetchall() == [(Decimal("1234.50"),)]
    detail = demo_con.execute("SELECT detail->>'$.reason', detail->>'$.after.CC001' FROM audit_event "
                              "WHERE action = 'budget.set'").fetchall()
    assert detail == [("Q4 plan", "1234.50")]


def test_a_close_that_crosses_a_threshold_raises_a_flag(demo_con: duckdb.DuckDBPyConnection) -> None:
    charges = _charges(demo_con, PERIOD)
    flagged_sql = "SELECT scope_id FROM anomaly_flag WHERE rule = ? AND date = ?"
    before = {r[0] for r in demo_con.execute(flagged_sql, [budgets.RULE, f"{PERIOD}-01"]).fetchall()}  # demo build
    calm = sorted((cc for cc, a in charges.items() if a > 1000 and cc not in before), key=lambda c: charges[c])
    over, under = calm[-1], calm[-2]
    fiona = _user(demo_con, "fiona")
    budgets.set_budgets(demo_con, fiona, PERIOD, {
        over: (charges[over] / Decimal("1.05")).quantize(Decimal("0.01")),     # 105 % used: crosses 80 and 100
        under: (charges[under] / Decimal("0.85")).quantize(Decimal("0.01"))},  # 85 %: crosses 80, flags nothing
        "tight budget for the test")
    state = {r["cost_center_id"]: r for r in budgets.standing(demo_con, fiona, PERIOD).iter_rows(named=True)}
    assert state[over]["crossed"] == 100 and state[under]["crossed"] == 80

    run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")            # the close watches the budgets
    # the month's flags (an incident spans consecutive flagged months, so read the flags of this month)
    month = {sid: (a, e, x, aid) for sid, a, e, x, aid in demo_con.execute(
        "SELECT scope_id, actual, expected, excess, anomaly_id FROM anomaly_flag WHERE rule = ? AND date = ?",
        [budgets.RULE, f"{PERIOD}-01"]).fetchall()}
    crossed = {cc for cc, r in state.items() if (r["crossed"] or 0) >= budgets.FLAG_FROM}   # the demo's own too
    # flags stay once raised (a later, higher budget does not erase them): the month holds the earlier ones too
    assert set(month) == crossed | before and over in crossed and under not in month
    actual, expected, excess, anomaly_id = month[over]
    assert (actual, expected, excess) == (charges[over], state[over]["budget"], charges[over] - state[over]["budget"])
    incident = workflow.list_anomalies(demo_con, fiona, scope_kind="cost_center").filter(
        pl.col("anomaly_id") == anomaly_id).row(0, named=True)
    assert incident["rule"] == budgets.RULE and incident["cost_center_id"] == over
    omar = _user(demo_con, "omar")                                              # scoped: only his own
    assert set(budgets.standing(demo_con, omar, PERIOD)["cost_center_id"].to_list()) <= set(omar.cost_centers or ())
