"""RI / SP amortisation per month and the unused-commitment policy in force, from FOCUS lines worked by hand."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb

from engine.costmodels import amortisation, commitments


def _lines(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "INSERT INTO cost_line (billing_period, charge_period_start, charge_period_end, provider, charge_category,"
        " commitment_discount_id, commitment_discount_status, billed_cost, effective_cost, list_cost,"
        " billing_currency, tag_cost_center, batch_id) VALUES"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'AWS', 'Purchase', 'RI-1', NULL,"
        "  1000, 0, NULL, 'USD', NULL, 'b'),"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'AWS', 'Usage', 'RI-1', 'Used',"
        "  0, 600, 900, 'USD', 'CC1', 'b'),"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'AWS', 'Usage', 'RI-1', 'Used',"
        "  0, 300, 450, 'USD', 'CC2', 'b'),"
        " ('2026-10', TIMESTAMP '2026-10-01', TIMESTAMP '2026-10-02', 'AWS', 'Usage', 'RI-1', 'Unused',"
        "  0, 100, NULL, 'USD', NULL, 'b')"
    )


def test_amortisation_by_month(con: duckdb.DuckDBPyConnection) -> None:
    _lines(con)
    row = amortisation.amortisation_by_month(con).row(0, named=True)
    assert {k: row[k] for k in ("period", "purchases_billed", "amortised", "used", "unused")} == {
        "period": "2026-10", "purchases_billed": D("1000.00"), "amortised": D("1000.00"), "used": D("900.00"),
        "unused": D("100.00")}
    assert row["utilisation"] == 0.9


def test_default_policy_keeps_unused_central(con: duckdb.DuckDBPyConnection) -> None:
    _lines(con)
    m = amortisation.month(con, "2026-10")
    assert (m.policy.mode, m.policy_saved) == ("keep_central", False)
    assert sorted(m.lines.select("target_id", "line_kind", "amount").rows()) == [
        ("CC1", "covered_usage", D("600.00")), ("CC2", "covered_usage", D("300.00")),
        ("IT-CENTRAL", "unused_commitment", D("100.00"))]
    assert m.totals() == {"covered_usage": D("900.00"), "unused_commitment": D("100.00"),
                          "commitment_savings": D("0.00")}
    assert m.utilisation["utilisation"].to_list() == [0.9]


def test_policy_in_force_by_month_and_preview(con: duckdb.DuckDBPyConnection) -> None:
    _lines(con)
    commitments.save_policy(con, commitments.CommitmentPolicy(mode="spread_pro_rata", effective_from="2026-10"),
                            "fiona")
    commitments.save_policy(con, commitments.CommitmentPolicy(mode="keep_central", effective_from="2026-11"),
                            "fiona")
    m = amortisation.month(con, "2026-10")
    assert (m.policy.mode, m.policy.version, m.policy_saved) == ("spread_pro_rata", 1, True)
    # 1,000.00 spread 600 : 300 → 666.67 / 333.33; nothing central
    assert sorted(m.lines.select("target_id", "amount").rows()) == [("CC1", D("666.67")), ("CC2", D("333.33"))]
    # preview on-demand equivalent: consumers pay list 900 / 450; IT keeps savings 900 − 1,350 and the unused 100
    od = amortisation.month(con, "2026-10", commitments.CommitmentPolicy(mode="on_demand_equivalent"))
    assert od.totals() == {"covered_usage": D("1350.00"), "unused_commitment": D("100.00"),
                           "commitment_savings": D("-450.00")}
    assert sum(od.totals().values()) == D("1000.00")
    assert od.central().rows() == [("RI-1", "commitment_savings", D("-450.00")),
                                   ("RI-1", "unused_commitment", D("100.00"))]
