"""Scenarios over a small hand-checked allocation; the identity charge + subsidy − markup = allocated, to the cent."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.allocation import whatif
from engine.allocation.runs import run_allocation
from engine.costmodels.scenarios import (
    COMPONENTS,
    Scenario,
    Subsidy,
    apply_scenario,
    compare,
    from_whatif_rows,
    list_scenarios,
    load_allocated,
    load_scenario,
    save_scenario,
    totals,
)
from engine.store import audit

ORG = pl.DataFrame({"unit_id": ["BU01", "BU02", "CC01", "CC02"], "parent_id": [None, None, "BU01", "BU02"]})


def _rows(spec: list[tuple[int, str, str, str, str, str | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"run_key": "r", "period": "2026-10", "step": s, "step_name": pool.replace("_", " "), "source_pool": pool,
          "method": m, "target_kind": kind, "target_id": tid, "cost_center_id": cc, "app_id": None,
          "service_name": None, "posted_amount": D(amount)} for s, pool, m, kind, tid, cc, amount in spec],
        schema_overrides={"posted_amount": pl.Decimal(18, 2)},
    )


ALLOCATED = _rows([
    (1, "cloud_direct", "direct", "cost_center", "CC01", "CC01", "100.00"),
    (1, "cloud_direct", "direct", "cost_center", "CC02", "CC02", "50.00"),
    (1, "cloud_direct", "direct", "unallocated", "UNALLOCATED", None, "10.00"),
    (2, "security_tooling", "driver", "cost_center", "CC01", "CC01", "60.00"),
    (2, "security_tooling", "driver", "cost_center", "CC02", "CC02", "40.00"),
    (3, "service_desk", "even", "cost_center", "CC01", "CC01", "15.00"),
    (3, "service_desk", "even", "cost_center", "CC02", "CC02", "15.00"),
    (3, "service_desk", "even", "business_unit", "BU02", None, "20.00"),
])
SHOWBACK = Scenario(name="showback", model="showback")
FULL = Scenario(name="full-recovery chargeback", model="full_recovery")
SUBSIDISED = Scenario(name="chargeback, security 30% subsidised, 5% markup", model="subsidised", markup_pct=D(5),
                      subsidies=[Subsidy(column="source_pool", values=["security_tooling"], pct=D(30))])


def test_apply_scenario_decomposes_each_charge() -> None:
    out = apply_scenario(ALLOCATED, SUBSIDISED).sort("target_id")
    got = {r["target_id"]: (r["direct"], r["shared"], r["subsidy"], r["markup"], r["charge"], r["invoiced"])
           for r in out.iter_rows(named=True)}
    assert got == {
        "BU02": (D(0), D("20.00"), D(0), D("1.00"), D("21.00"), D("21.00")),
        "CC01": (D("100.00"), D("75.00"), D("18.00"), D("8.75"), D("165.75"), D("165.75")),
        "CC02": (D("50.00"), D("55.00"), D("12.00"), D("5.25"), D("98.25"), D("98.25")),
        "UNALLOCATED": (D("10.00"), D(0), D(0), D(0), D("10.00"), D(0)),
    }
    t = totals(apply_scenario(ALLOCATED, SUBSIDISED))
    assert (t["allocated"], t["subsidy"], t["markup"], t["invoiced"]) == (D(310), D(30), D(15), D("285.00"))
    assert totals(apply_scenario(ALLOCATED, SHOWBACK))["invoiced"] == 0


def test_markup_on_the_net_of_subsidy() -> None:
    s = SUBSIDISED.model_copy(update={"markup_base": "net_of_subsidy"})
    out = apply_scenario(ALLOCATED, s).filter(target_id="CC01").row(0, named=True)
    assert out["markup"] == D("7.85") and out["charge"] == D("164.85")


def test_compare_by_business_unit_explains_the_delta() -> None:
    cmp = compare(ALLOCATED, [SHOWBACK, FULL, SUBSIDISED], "showback", org_units=ORG)
    last = {r["business_unit_id"]: r for r in cmp.filter(scenario=SUBSIDISED.name).iter_rows(named=True)}
    assert (last["BU01"]["charge"], last["BU01"]["delta"], last["BU01"]["delta_subsidy"],
            last["BU01"]["delta_markup"]) == (D("165.75"), D("-9.25"), D("-18.00"), D("8.75"))
    assert (last["BU02"]["charge"], last["BU02"]["delta"], last["BU02"]["delta_subsidy"],
            last["BU02"]["delta_markup"]) == (D("119.25"), D("-5.75"), D("-12.00"), D("6.25"))
    assert last["UNALLOCATED"]["delta"] == 0
    full = cmp.filter(scenario=FULL.name)
    assert full["delta"].to_list() == [D(0)] * 3 and full["invoiced"].sum() == D(300)
    parts = cmp.select(pl.sum_horizontal(pl.col(f"delta_{c}") for c in COMPONENTS))
    assert parts.to_series().to_list() == cmp["delta"].to_list()
    # An app owner scoped to CC02 sees BU02 without CC01's or the BU-level rows, with the same cents as above.
    scoped = compare(ALLOCATED, [SHOWBACK, SUBSIDISED], "showback", org_units=ORG, cost_centers=["CC02"])
    assert scoped.filter(scenario=SUBSIDISED.name).select("business_unit_id", "charge").rows() == [
        ("BU02", D("98.25"))]
    by_cc = compare(ALLOCATED, [SHOWBACK, SUBSIDISED], SHOWBACK, by="cost_center", org_units=ORG)
    assert by_cc.filter(scenario=SUBSIDISED.name, cost_center_id="CC02")["charge"].item() == D("98.25")


def test_idle_penalty_and_rate_card() -> None:
    penal = Scenario(name="full + idle", model="full_recovery", idle_penalty_pct=D(25))
    idle = pl.DataFrame({"target_id": ["CC02"], "idle_cost": [D("41.00")]})
    out = apply_scenario(ALLOCATED, penal, idle=idle).filter(target_id="CC02").row(0, named=True)
    assert (out["penalty"], out["charge"]) == (D("10.25"), D("115.25"))
    card = Scenario(name="rates", model="rate_card", rate_card="it-catalogue")
    prices = pl.DataFrame({"target_id": ["CC01", "CC02"], "charge": [D("180.00"), D("100.00")]})
    rc = {r["target_id"]: (r["charge"], r["rate_variance"]) for r in
          apply_scenario(ALLOCATED, card, rate_charges=prices).iter_rows(named=True)}
    assert rc["CC01"] == (D("180.00"), D("5.00")) and rc["CC02"] == (D("100.00"), D("-5.00"))
    assert rc["BU02"] == (D(0), D("-20.00"))
    with pytest.raises(ValueError):
        apply_scenario(ALLOCATED, card)
    with pytest.raises(ValueError, match="CC99"):
        apply_scenario(ALLOCATED, penal, idle=pl.DataFrame({"target_id": ["CC99"], "idle_cost": [D(1)]}))


def test_unused_commitment_policy_in_a_scenario() -> None:
    with_uc = pl.concat([ALLOCATED, _rows([
        (4, "unused_commitments", "allocated", "cost_center", "CC01", "CC01", "12.00"),
        (4, "unused_commitments", "allocated", "cost_center", "CC02", "CC02", "8.00"),
    ])])
    central = Scenario(name="uc central", model="markup", markup_pct=D(10), unused_commitment_policy="keep_central",
                       unused_commitment_pools=["unused_commitments"])
    out = {r["target_id"]: r for r in apply_scenario(with_uc, central).iter_rows(named=True)}
    # CC01: 187.00 allocated, 12.00 of it unused commitment kept by IT; markup 10 % on the 175.00 it consumed.
    assert (out["CC01"]["commitment_central"], out["CC01"]["markup"], out["CC01"]["charge"]) == (
        D("12.00"), D("17.50"), D("192.50"))
    spread = central.model_copy(update={"unused_commitment_policy": "spread_pro_rata"})
    assert apply_scenario(with_uc, spread).filter(target_id="CC01")["charge"].item() == D("205.70")
    cmp = compare(with_uc, [Scenario(name="sb", model="showback"), central], "sb", org_units=ORG)
    bu01 = cmp.filter(scenario="uc central", business_unit_id="BU01").row(0, named=True)
    assert (bu01["delta"], bu01["delta_commitment_central"], bu01["delta_markup"]) == (
        D("5.50"), D("-12.00"), D("17.50"))
    with pytest.raises(ValidationError):
        Scenario(name="x", model="full_recovery", unused_commitment_policy="keep_central")


def test_inconsistent_parameters_are_refused() -> None:
    with pytest.raises(ValidationError):
        Scenario(name="x", model="showback", markup_pct=D(5))
    with pytest.raises(ValidationError):
        Scenario(name="x", model="full_recovery", subsidies=[Subsidy(values=["a"], pct=D(10))])
    with pytest.raises(ValidationError):
        Scenario(name="x", model="rate_card")
    with pytest.raises(ValidationError):
        Subsidy(values=["a"], pct=D(101))


def test_scenarios_are_saved_versioned_and_audited(con: duckdb.DuckDBPyConnection) -> None:
    v1 = save_scenario(con, SUBSIDISED, "finops")
    v2 = save_scenario(con, SUBSIDISED.model_copy(update={"markup_pct": D(6)}), "finops")
    assert (v1.version, v2.version) == (1, 2)
    assert load_scenario(con, SUBSIDISED.name).markup_pct == D(6)
    assert load_scenario(con, SUBSIDISED.name, 1) == v1
    assert load_scenario(con, SUBSIDISED.name, 1).subsidies[0].pct == D(30)
    listed = list_scenarios(con)
    assert listed.select("name", "version", "model").rows() == [(SUBSIDISED.name, 2, "subsidised")]
    with pytest.raises(LookupError):
        load_scenario(con, "nope")
    assert audit.verify(con).ok


AMOUNTS = st.integers(-500_000, 5_000_000)


@settings(max_examples=120, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(["pool_a", "pool_b", "pool_c"]), st.sampled_from(["direct", "driver"]),
                            st.sampled_from(["CC01", "CC02", "CC03", "UNALLOCATED"]), AMOUNTS),
                  min_size=1, max_size=30),
    pct=st.decimals(0, 100, places=2),
    markup=st.decimals(0, 50, places=3),
    base=st.sampled_from(["gross", "net_of_subsidy"]),
)
def test_charge_plus_subsidy_minus_markup_is_allocated(rows: list[tuple[str, str, str, int]], pct: D, markup: D,
                                                       base: str) -> None:
    frame = _rows([(1, p, m, "unallocated" if t == "UNALLOCATED" else "cost_center", t,
                    None if t == "UNALLOCATED" else t, str(D(a) / 100)) for p, m, t, a in rows])
    s = Scenario(name="s", model="subsidised", markup_pct=markup, markup_base=base,  # type: ignore[arg-type]
                 subsidies=[Subsidy(column="source_pool", values=["pool_b", "pool_c"], pct=pct)])
    out = apply_scenario(frame, s)
    allocated = sum(D(a) / 100 for *_, a in rows)
    assert out["charge"].sum() + out["subsidy"].sum() - out["markup"].sum() == allocated
    per_target = out.select(pl.col("charge") + pl.col("subsidy") - pl.col("markup") - pl.col("allocated"))
    assert set(per_target.to_series().to_list()) <= {D(0)}
    exact_sub = sum((D(a) / 100 * pct / 100 for p, _, t, a in rows if p in ("pool_b", "pool_c")
                     and t != "UNALLOCATED"), D(0))
    assert out["subsidy"].sum() == exact_sub.quantize(D("0.01"), rounding="ROUND_HALF_UP")


DEMO_PERIOD = "2026-09"
RULES = Path(__file__).resolve().parents[3] / "engine" / "rules" / "rulesets" / "demo_default.yaml"
INDEPENDENT_SQL = """
    WITH r AS (
        SELECT CASE WHEN a.target_id = 'UNALLOCATED' THEN 'UNALLOCATED'
                    WHEN a.target_kind = 'business_unit' THEN a.target_id
                    ELSE coalesce(o.parent_id, 'UNASSIGNED') END AS bu,
               a.target_kind, a.target_id, a.source_pool, a.posted_amount
        FROM allocation_result a LEFT JOIN org_unit o ON o.unit_id = a.cost_center_id
        WHERE a.run_key = ?
    )
    SELECT bu,
           sum(posted_amount) AS allocated,
           sum(CASE WHEN source_pool = 'security' AND target_id <> 'UNALLOCATED' THEN posted_amount * 0.30 ELSE 0 END)
               AS subsidy_exact,
           sum(CASE WHEN target_id <> 'UNALLOCATED' THEN posted_amount * 0.05 ELSE 0 END) AS markup_exact,
           count(DISTINCT target_kind || '/' || target_id) AS targets
    FROM r GROUP BY bu ORDER BY bu
"""


def test_three_scenarios_over_a_demo_month_match_an_independent_sql(demo_con: duckdb.DuckDBPyConnection) -> None:
    """Showback, full recovery and '30 % of security tooling subsidised + 5 % overhead markup' per business unit,
    on the allocation engine's real run of the demo organisation, checked against plain SQL."""
    run = run_allocation(demo_con, DEMO_PERIOD, RULES, actor="test")
    scenarios = [
        save_scenario(demo_con, Scenario(name="showback", model="showback"), "finops"),
        save_scenario(demo_con, Scenario(name="full-recovery chargeback", model="full_recovery"), "finops"),
        save_scenario(demo_con, Scenario(
            name="chargeback with 30% of security tooling subsidised and a 5% overhead markup", model="subsidised",
            markup_pct=D(5), subsidies=[Subsidy(column="source_pool", values=["security"], pct=D(30),
                                                label="30% of security tooling")]), "finops"),
    ]
    loaded = [load_scenario(demo_con, s.name) for s in scenarios]
    assert loaded == scenarios
    allocated = load_allocated(demo_con, run.run_key)
    cmp = compare(allocated, loaded, "showback")

    expected = {r[0]: r[1:] for r in demo_con.sql(INDEPENDENT_SQL, params=[run.run_key]).fetchall()}
    bus = demo_con.sql("SELECT unit_id FROM org_unit WHERE kind = 'business_unit' ORDER BY 1").fetchall()
    assert set(expected) == {b for (b,) in bus} | {"UNALLOCATED"}
    assert sum(v[0] for v in expected.values()) == run.total_out

    show, full, sub = (cmp.filter(scenario=s.name) for s in loaded)
    for frame in (show, full, sub):
        assert sorted(frame["business_unit_id"].to_list()) == sorted(expected)
    for r in show.iter_rows(named=True):
        assert (r["charge"], r["invoiced"], r["delta"]) == (expected[r["business_unit_id"]][0], 0, 0)
    for r in full.iter_rows(named=True):
        alloc = expected[r["business_unit_id"]][0]
        assert r["charge"] == alloc and r["delta"] == 0
        assert r["invoiced"] == (0 if r["business_unit_id"] == "UNALLOCATED" else alloc)
    for r in sub.iter_rows(named=True):
        alloc, sub_exact, markup_exact, targets = expected[r["business_unit_id"]]
        # Each target's subsidy and markup are rounded once (largest remainder): at most a cent each from exact.
        assert abs(r["subsidy"] - sub_exact) < D("0.01") * targets
        assert abs(r["markup"] - markup_exact) < D("0.01") * targets
        assert abs(r["charge"] - (alloc - sub_exact + markup_exact)) < D("0.02") * targets
        assert r["charge"] == alloc - r["subsidy"] + r["markup"]
        assert (r["delta"], r["delta_subsidy"], r["delta_markup"]) == (r["markup"] - r["subsidy"], -r["subsidy"],
                                                                       r["markup"])
    sub_total = sum((v[1] for v in expected.values()), D(0))
    markup_total = sum((v[2] for v in expected.values()), D(0))
    assert sub["subsidy"].sum() == sub_total.quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert sub["markup"].sum() == markup_total.quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert sub["charge"].sum() + sub["subsidy"].sum() - sub["markup"].sum() == run.total_out
    assert sub["subsidy"].sum() > 0 and sub_total > D("20000")


def test_workshop_what_if_rows_compare_like_the_posted_run(demo_con: duckdb.DuckDBPyConnection) -> None:
    """The workshop path (pre-aggregated what-if rows) gives the same per-BU charges as the posted run."""
    run = run_allocation(demo_con, DEMO_PERIOD, RULES, actor="test")
    prepared = whatif.prepare(demo_con, DEMO_PERIOD, RULES)
    scen = [Scenario(name="showback", model="showback"), SUBSIDISED.model_copy(update={
        "subsidies": [Subsidy(column="source_pool", values=["security"], pct=D(30))]})]
    posted = compare(load_allocated(demo_con, run.run_key), scen, "showback")
    workshop = compare(from_whatif_rows(demo_con, whatif.evaluate_rows(prepared)), scen, "showback")
    cols = ["scenario", "business_unit_id", "charge", "subsidy", "markup", "delta"]
    assert workshop.select(cols).rows() == posted.select(cols).rows()
    # A slider move: overhead split 100 % headcount shifts charges between BUs, the total stays.
    moved = compare(from_whatif_rows(demo_con, whatif.evaluate_rows(prepared, weights={
        "it_overhead": {"headcount": 1.0, "revenue": 0.0}})), scen, "showback")
    assert moved["allocated"].sum() == posted["allocated"].sum()
    assert moved.select(cols).rows() != posted.select(cols).rows()
