"""The scope: the materiality threshold moves pools to one overhead pool and the month close still conserves; a
pool's basis flows into the rule set the workshop evaluates; the granularity check flags thin metering."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from engine.access.users import get_user
from engine.allocation import whatif
from engine.allocation.runs import run_allocation
from engine.errors import AccessDenied
from engine.insights import workshop
from engine.scope import granularity, overview, transform, versions
from engine.scope.model import OVERHEAD_STEP, PoolScope, Scope

PERIOD = "2026-10"
RULES = "demo_default"


def _user(con: duckdb.DuckDBPyConnection, name: str):  # noqa: ANN202
    u = get_user(con, name)
    assert u is not None
    return u


def _pool_totals(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, Decimal]:
    return {p: Decimal(v) for p, v in con.execute(
        "SELECT source_pool, sum(posted_amount) FROM allocation_result WHERE run_key = ? GROUP BY 1",
        [key]).fetchall()}


def test_threshold_moves_small_pools_to_overhead_and_the_close_conserves(demo_con: duckdb.DuckDBPyConnection) -> None:
    before = run_allocation(demo_con, PERIOD, RULES, actor="fiona")
    fiona = _user(demo_con, "fiona")
    scope = Scope(threshold_pct=Decimal(4), pools={"security": PoolScope(critical=True)})
    versions.save(demo_con, RULES, scope, fiona, PERIOD, "small pools to overhead")
    view = overview.build(demo_con, PERIOD, RULES)
    moved = set(view.pools.filter(view.pools["to_overhead"])["pool"].to_list())
    # shares of 2026-10 (|pool| / Σ|pools|): network 4.6 %, security 3.5 % but critical, backup 3.2 %,
    # account charges 0.2 %, unused commitments 1.1 %
    assert moved == {"backup", "account_charges", "unused_commitments"}
    after = run_allocation(demo_con, PERIOD, RULES, actor="fiona")
    assert after.run_key != before.run_key
    assert after.total_in == before.total_in
    assert after.total_out == before.total_out == Decimal(after.total_in).quantize(Decimal("0.01"))
    # every source pool still posts exactly what it held, now partly through the overhead step
    assert _pool_totals(demo_con, after.run_key) == _pool_totals(demo_con, before.run_key)
    via = demo_con.execute("SELECT DISTINCT source_pool FROM allocation_result WHERE run_key = ? AND step_name = ?",
                           [after.run_key, transform.OVERHEAD_NAME]).fetchall()
    # the moved pools, plus the network and security money the reciprocal block sends to backup (SHR-BKP)
    assert {r[0] for r in via} == moved | {"network", "security"}
    overhead_cc = demo_con.execute(
        "SELECT count(DISTINCT target_id), bool_and(target_kind = 'cost_center') FROM allocation_result"
        " WHERE run_key = ? AND step_name = ?", [after.run_key, transform.OVERHEAD_NAME]).fetchall()[0]
    heads = demo_con.execute("SELECT count(DISTINCT target_id) FROM driver_value WHERE period = ? AND"
                             " driver = 'headcount' AND quantity > 0", [PERIOD]).fetchall()[0][0]
    assert overhead_cc == (heads, True)   # shared by headcount over every cost centre with people
    backup_direct = demo_con.execute("SELECT count(*) FROM allocation_result WHERE run_key = ? AND step_name ="
                                     " 'Backup and recovery' AND target_kind = 'application'",
                                     [after.run_key]).fetchall()[0][0]
    assert backup_direct == 0
    event = demo_con.execute("SELECT actor, entity_id FROM audit_event WHERE action = 'scope.save'").fetchall()
    assert event == [("fiona", f"{RULES}@1")]


def test_a_pools_basis_reaches_the_workshop(demo_con: duckdb.DuckDBPyConnection) -> None:
    base = whatif.prepare(demo_con, PERIOD, RULES)
    assert set(base.weighted_steps["it_overhead"]) == {"headcount", "revenue"}
    before = workshop.charges(base, workshop.baseline_params(base))
    versions.save_pool(demo_con, RULES, "it_overhead", PoolScope(basis="headcount"), _user(demo_con, "fiona"),
                       PERIOD, "service desk by people")
    prep = whatif.prepare(demo_con, PERIOD, RULES)
    step = prep.rule_set.step("it_overhead")
    assert (step.method.kind, step.method.driver, step.target_kind) == ("driver", "headcount", "cost_center")
    assert "it_overhead" not in prep.weighted_steps   # the workshop's weight sliders for it are gone
    assert prep.unscoped is not None and prep.unscoped.step("it_overhead").method.kind == "weighted"
    after = workshop.charges(prep, workshop.baseline_params(prep))
    assert sum(after["charge"].to_list(), Decimal(0)) == sum(before["charge"].to_list(), Decimal(0))
    assert after["charge"].to_list() != before["charge"].to_list()
    # the pool now follows headcount alone: each cost centre gets its headcount share of the pool, to the cent
    rows = workshop.allocated_rows(prep, None).filter(workshop.pl.col("step") == 5)  # it_overhead is step 5
    pool = prep.data.pool_totals["it_overhead"]
    heads = {t: q for t, q in prep.data.drivers[("headcount", "cost_center")].items()}
    total_heads = sum(heads.values(), Decimal(0))
    for target, amount in zip(rows["target_id"].to_list(), rows["amount"].to_list(), strict=True):
        assert abs(Decimal(amount) - pool * heads[target] / total_heads) <= Decimal("0.01")
    # a month before the scope's effective month is not affected
    assert "it_overhead" in whatif.prepare(demo_con, "2026-09", RULES).weighted_steps


def test_only_finops_and_admins_change_the_scope(demo_con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(AccessDenied):
        versions.save(demo_con, RULES, Scope(threshold_pct=Decimal(5)), _user(demo_con, "audrey"), PERIOD)
    assert versions.history(demo_con, RULES) == []


def test_granularity_check_flags_thin_driver_coverage(demo_con: duckdb.DuckDBPyConnection) -> None:
    view = overview.build(demo_con, PERIOD, RULES)
    cov = {r["pool"]: r for r in view.coverage.iter_rows(named=True)}
    apps = demo_con.execute("SELECT count(*) FROM application").fetchall()[0][0]
    cpu = demo_con.execute("SELECT count(DISTINCT target_id) FROM driver_value WHERE period = ? AND driver ="
                           " 'cpu_hours' AND quantity > 0", [PERIOD]).fetchall()[0][0]
    assert (cpu, apps) == (25, 64)
    assert cov["k8s_platform"]["flagged"] and cov["k8s_platform"]["coverage_pct"] == round(100 * cpu / apps, 1)
    assert "cpu_hours covers 25 of 64 applications" in cov["k8s_platform"]["message"]
    assert not cov["network"]["flagged"]          # bandwidth_gb: 62 of 64 applications, above 80 %
    # headcount exists per cost centre only: charging the pool per application has no data behind it
    rs = view.scoped
    scope = Scope(pools={"it_overhead": PoolScope(basis="headcount", granularity="application"),
                         "network": PoolScope(min_coverage_pct=Decimal(99))})
    from engine.allocation.pools import load_pools

    data = load_pools(demo_con, rs, PERIOD)
    checks = {c.step_id: c for c in granularity.check(demo_con, transform.apply(rs, scope, data), scope, data)}
    assert checks["it_overhead"].flagged and checks["it_overhead"].coverage_pct == 0
    assert "loaded per department" in checks["it_overhead"].message
    assert checks["network"].flagged              # 96.9 % is below this pool's own 99 %


def test_overhead_step_is_not_added_twice(demo_con: duckdb.DuckDBPyConnection) -> None:
    prep = whatif.prepare(demo_con, PERIOD, RULES)
    scope = Scope(threshold_pct=Decimal(2))
    once = transform.apply(prep.rule_set, scope, prep.data)
    twice = transform.apply(once, scope, prep.data)
    assert [s.id for s in twice.steps].count(OVERHEAD_STEP) == 1
    assert twice.body_hash() == once.body_hash()
