"""OpenCost /allocation → usage drivers only; month-crossing windows split; idle left out; never cost lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.usage.opencost import CONNECTOR, month_shares
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

FILE = FIXTURES / "opencost_allocation_namespace.json"


def test_detected() -> None:
    assert detected(FILE) == "opencost"
    assert claims_no_billing_sample("opencost") == []


def test_driver_values() -> None:
    res = CONNECTOR.parse(FILE)
    assert res.target_table == "driver_value"
    got = {(r["period"], r["driver"], r["target_id"]): r["quantity"] for r in res.frame.to_dicts()}
    assert got == {
        ("2026-10", "cpu_core_hours", "storefront"): 1488.0,     # 1464 + half of the 48 crossing into November
        ("2026-11", "cpu_core_hours", "storefront"): 24.0,
        ("2026-10", "ram_gib_hours", "storefront"): 5952.0,      # 8 GiB × 732 h + 8 GiB × 12 h
        ("2026-11", "ram_gib_hours", "storefront"): 96.0,
        ("2026-10", "pv_gib_hours", "storefront"): 74400.0,
        ("2026-11", "pv_gib_hours", "storefront"): 1200.0,
        ("2026-10", "cpu_core_hours", "reporting"): 366.0,
        ("2026-10", "ram_gib_hours", "reporting"): 2928.0,
        ("2026-10", "cpu_core_hours", "kube-system"): 183.0,
        ("2026-10", "ram_gib_hours", "kube-system"): 1464.0,
    }
    assert set(res.frame["target_kind"]) == {"application"}
    assert "__idle__" not in set(res.frame["target_id"])
    assert reasons(res) == {6: "batch-jobs: negative value -5.0 in cpuCoreHours"}
    assert res.warnings[0] == "2 __idle__ allocations left out: idle capacity is not a consumer"


def test_month_split() -> None:
    s = month_shares(datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 11, 1, 12, tzinfo=UTC))
    assert s == [("2026-10", 0.5), ("2026-11", 0.5)]
    assert month_shares(datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)) == [
        ("2026-12", 0.5), ("2027-01", 0.5)]


def test_pipeline_writes_drivers_never_costs(con) -> None:
    res = load(con, FILE)
    assert (res.target_table, res.rows_loaded) == ("driver_value", 10)
    assert count(con, "driver_value") == 10
    assert count(con, "cost_line") == 0
    total = con.sql("SELECT sum(quantity) FROM driver_value WHERE driver = 'cpu_core_hours'").fetchall()[0][0]
    assert total == pytest.approx(1488 + 24 + 366 + 183)
