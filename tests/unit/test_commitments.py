"""RI/savings-plan amortisation and the three unused-commitment policies, with the issue's check figures."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import pytest

from engine import audit
from engine.commitments import (
    Commitment,
    CommitmentPolicy,
    allocate_commitment,
    load_policies,
    policy_for_period,
    save_policy,
)

RI = Commitment("ri-1", upfront=D(876), recurring_hourly=D("0.05"), term_hours=8760)
HOURS = D(720)


def test_ri_check_figures_keep_central() -> None:
    # 876 / 8760 h = 0.10/h + 0.05/h = 0.15/h; × 720 h = 108.00; 80 % used = 576 h → 86.40, unused 21.60.
    assert RI.amortised_hourly() == D("0.15")
    res = allocate_commitment(RI, HOURS, {"CC-A": D(576)}, CommitmentPolicy(mode="keep_central"))
    assert res.period_cost == D("108.00")
    assert res.utilisation == D("0.8")
    assert res.consumer_charges() == {"CC-A": D("86.40")}
    assert res.central("unused_commitment") == D("21.60")


def test_spread_pro_rata_puts_the_whole_commitment_on_consumers() -> None:
    res = allocate_commitment(RI, HOURS, {"CC-A": D(432), "CC-B": D(144)}, CommitmentPolicy(mode="spread_pro_rata"))
    assert res.consumer_charges() == {"CC-A": D("81.00"), "CC-B": D("27.00")}
    assert res.central("unused_commitment") == 0
    assert sum(ln.amount for ln in res.lines) == D("108.00")


def test_on_demand_equivalent_keeps_savings_and_waste_central() -> None:
    # On-demand 0.192/h: consumers pay 576 × 0.192 = 110.59 (110.592); IT books savings 86.40 − 110.59 = −24.19
    # and waste 21.60; all lines add up to the 108.00 the commitment cost.
    od = {"CC-A": D(432) * D("0.192"), "CC-B": D(144) * D("0.192")}
    res = allocate_commitment(RI, HOURS, {"CC-A": D(432), "CC-B": D(144)},
                              CommitmentPolicy(mode="on_demand_equivalent"), on_demand=od)
    assert res.consumer_charges() == {"CC-A": D("82.94"), "CC-B": D("27.65")}
    assert res.central("commitment_savings") == D("-24.19")
    assert res.central("unused_commitment") == D("21.60")
    assert sum(ln.amount for ln in res.lines) == D("108.00")
    with pytest.raises(ValueError):
        allocate_commitment(RI, HOURS, {"CC-A": D(10)}, CommitmentPolicy(mode="on_demand_equivalent"))


def test_savings_plan_in_committed_dollars() -> None:
    # No-upfront plan committing 10 $/h for 3 years: 720 h → 7,200.00; 6,000 $ of plan-rate usage covered.
    sp = Commitment("sp-1", upfront=D(0), recurring_hourly=D(10), term_hours=3 * 8760, units_per_hour=D(10),
                    kind="savings_plan")
    res = allocate_commitment(sp, HOURS, {"A": D(4500), "B": D(1500)}, CommitmentPolicy())
    assert res.consumer_charges() == {"A": D("4500.00"), "B": D("1500.00")}
    assert res.central("unused_commitment") == D("1200.00")
    with pytest.raises(ValueError):
        allocate_commitment(sp, HOURS, {"A": D(8000)}, CommitmentPolicy())


def test_unused_commitment_with_no_consumers_stays_central_under_every_policy() -> None:
    for mode in ("keep_central", "spread_pro_rata", "on_demand_equivalent"):
        res = allocate_commitment(RI, HOURS, {}, CommitmentPolicy(mode=mode))
        assert res.central("unused_commitment") == D("108.00")


def test_policy_versions_are_stored_audited_and_picked_by_period(con: duckdb.DuckDBPyConnection) -> None:
    v1 = save_policy(con, CommitmentPolicy(mode="keep_central", effective_from="2026-01", reason="start"), "fin")
    v2 = save_policy(con, CommitmentPolicy(mode="on_demand_equivalent", effective_from="2026-04",
                                           reason="teams want stable prices"), "fin")
    assert (v1.version, v2.version) == (1, 2)
    policies = load_policies(con)
    assert policy_for_period(policies, "2026-03").mode == "keep_central"
    assert policy_for_period(policies, "2026-04").mode == "on_demand_equivalent"
    with pytest.raises(LookupError):
        policy_for_period(policies, "2025-12")
    assert audit.verify(con).ok
    assert con.sql("SELECT count(*) FROM audit_event WHERE action = 'commitment_policy.save'").fetchall()[0][0] == 2
    with pytest.raises(ValueError):
        CommitmentPolicy(effective_from="2026-13")
