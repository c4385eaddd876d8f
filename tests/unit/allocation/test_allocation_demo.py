"""The demo organisation's default rule set closes a month: every cent posted, an explicit unallocated line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from engine.allocation import rollup, whatif
from engine.allocation.rounding import to_cents
from engine.allocation.runs import run_allocation
from engine.rules import model, versions

RULES = Path(__file__).resolve().parents[3] / "engine" / "rules" / "rulesets" / "demo_default.yaml"
PERIOD = "2026-10"


def test_demo_month_close_posts_all_effective_cost(demo_con: duckdb.DuckDBPyConnection) -> None:
    rs = model.load(RULES)
    assert len(rs.steps) >= 4 and any(s.reciprocal_group for s in rs.steps)
    if not [v for v in versions.list_versions(demo_con, rs.name) if v.status == "approved"]:
        versions.publish(demo_con, rs, "fiona", "admin", "demo default", "2025-11")
    in_force = versions.as_of(demo_con, rs.name, PERIOD)
    assert in_force.body_hash == rs.body_hash()
    summary = run_allocation(demo_con, PERIOD, "demo_default", actor="fiona")
    effective = demo_con.sql("SELECT sum(effective_cost) FROM cost_line WHERE billing_period = ?",
                             params=[PERIOD]).fetchall()[0][0]
    assert summary.rule_version == in_force.version and summary.total_in == effective
    assert summary.total_out * 100 == to_cents(effective)  # 100 % of effective cost, to the cent
    key = summary.run_key
    per_pool = dict(demo_con.sql("SELECT source_pool, sum(posted_amount) FROM allocation_result WHERE run_key = ?"
                                 " GROUP BY 1", params=[key]).fetchall())
    assert {"network", "security", "backup", "k8s_platform", "tagged", "untagged"} <= set(per_pool)
    unallocated = demo_con.sql("SELECT sum(posted_amount) FROM allocation_result WHERE run_key = ?"
                               " AND target_id = 'UNALLOCATED'", params=[key]).fetchall()[0][0]
    assert summary.unallocated == unallocated and 0 < unallocated < Decimal("0.05") * effective
    # shared services are passed on in full: nothing stays on the shared-service applications
    shared = demo_con.sql("SELECT count(*) FROM allocation_result WHERE run_key = ? AND target_id LIKE 'SHR-%'",
                          params=[key]).fetchall()[0][0]
    assert shared == 0
    # network and security serve each other: each posts money that originated in the other's pool
    cross = demo_con.sql("SELECT step_name, source_pool FROM allocation_result WHERE run_key = ? AND"
                         " step_name IN ('Enterprise network', 'Security tooling') GROUP BY ALL ORDER BY ALL",
                         params=[key]).fetchall()
    assert ("Enterprise network", "security") in cross and ("Security tooling", "network") in cross
    by_cc = rollup.run_by_cost_center(demo_con, key)
    assert by_cc["amount"].sum() == summary.total_out and by_cc.height >= 35
    # the workshop path on the same month gives the same cents per cost centre
    assert whatif.evaluate(whatif.prepare(demo_con, PERIOD, "demo_default")).equals(by_cc)
