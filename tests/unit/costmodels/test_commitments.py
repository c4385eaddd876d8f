"""RI/savings-plan amortisation and the three unused-commitment policies, with the issue's check figures."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
import pytest

from engine.costmodels.commitments import (
    Commitment,
    CommitmentPolicy,
    allocate_commitment,
    apply_policy_to_focus,
    focus_commitments,
    load_policies,
    policy_for_period,
    save_policy,
    utilisation,
)
from engine.store import audit

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


def _focus_lines(con: duckdb.DuckDBPyConnection) -> None:
    rows = [
        ("Used", "CC-A", "60.00", "100.00"), ("Used", "CC-B", "20.00", "30.00"), ("Used", None, "10.00", "15.00"),
        ("Unused", None, "30.00", None),
    ]
    for status, cc, eff, lst in rows:
        con.execute(
            "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, billed_cost,"
            " effective_cost, list_cost, billing_currency, tag_cost_center, charge_category, pricing_category,"
            " commitment_discount_id, commitment_discount_status, batch_id) VALUES ('2026-09', TIMESTAMP"
            " '2026-09-01', TIMESTAMP '2026-09-02', 'AWS', 0, ?, ?, 'USD', ?, 'Usage', 'Committed', 'ri-9', ?, 'b')",
            [D(eff), None if lst is None else D(lst), cc, status])


def test_focus_commitment_lines_under_each_policy(con: duckdb.DuckDBPyConnection) -> None:
    _focus_lines(con)
    usage = focus_commitments(con, "2026-09")
    assert utilisation(usage).select("used_effective", "unused_effective", "utilisation").row(0) == (
        D(90), D(30), 0.75)

    def lines(mode: str) -> dict[tuple[str, str], D]:
        out = apply_policy_to_focus(usage, CommitmentPolicy(mode=mode))  # type: ignore[arg-type]
        assert out["amount"].sum() == D("120.00")
        return {(t, k): a for _, t, k, a in out.iter_rows()}

    assert lines("keep_central") == {("CC-A", "covered_usage"): D("60.00"), ("CC-B", "covered_usage"): D("20.00"),
                                     ("UNALLOCATED", "covered_usage"): D("10.00"),
                                     ("IT-CENTRAL", "unused_commitment"): D("30.00")}
    # 120.00 over used 60 : 20 : 10 → 80.00, 26.67, 13.33
    assert lines("spread_pro_rata") == {("CC-A", "covered_usage"): D("80.00"), ("CC-B", "covered_usage"): D("26.67"),
                                        ("UNALLOCATED", "covered_usage"): D("13.33")}
    # Consumers pay list (on-demand) 100 + 30 + 15 = 145; IT books savings 90 − 145 = −55 and waste 30.
    assert lines("on_demand_equivalent") == {
        ("CC-A", "covered_usage"): D("100.00"), ("CC-B", "covered_usage"): D("30.00"),
        ("UNALLOCATED", "covered_usage"): D("15.00"), ("IT-CENTRAL", "commitment_savings"): D("-55.00"),
        ("IT-CENTRAL", "unused_commitment"): D("30.00")}


def test_demo_commitments_reconcile_under_every_policy(demo_con: duckdb.DuckDBPyConnection) -> None:
    usage = focus_commitments(demo_con, "2026-09")
    total = demo_con.sql("SELECT round(sum(effective_cost), 2) FROM cost_line WHERE billing_period = '2026-09'"
                         " AND commitment_discount_status IN ('Used', 'Unused')").fetchall()[0][0]
    util = utilisation(usage)
    assert util.height == 6 and all(0.5 < u < 1 for u in util["utilisation"].to_list())
    for mode in ("keep_central", "spread_pro_rata", "on_demand_equivalent"):
        out = apply_policy_to_focus(usage, CommitmentPolicy(mode=mode))  # type: ignore[arg-type]
        # Per-commitment rounding: within a cent per commitment of the exact total.
        assert abs(out["amount"].sum() - total) <= D("0.01") * util.height
    central = apply_policy_to_focus(usage, CommitmentPolicy(mode="keep_central"))
    unused = central.filter(line_kind="unused_commitment")["amount"].sum()
    expected = demo_con.sql("SELECT round(sum(effective_cost), 2) FROM cost_line WHERE billing_period = '2026-09'"
                            " AND commitment_discount_status = 'Unused'").fetchall()[0][0]
    assert expected > 0 and abs(unused - expected) <= D("0.01") * util.height
