"""Idle penalty and utilisation incentive per capacity driver, as an app owner would read them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine.costmodels.idle import IdlePolicy, Reservation, idle_adjustments, idle_cost_by_target, idle_frame

POLICIES = {
    "storage_gb_month": IdlePolicy(penalty_pct=D(20), incentive_pct=D(5), incentive_threshold=D("0.9")),
    "cluster_vcpu_hours": IdlePolicy(penalty_pct=D(50)),
}


def test_penalty_on_idle_storage_and_incentive_for_hot_cluster() -> None:
    lines = idle_adjustments(
        [
            # 10 TB reserved at 0.023/GB, 4 TB used: 6,000 GB idle = 138.00 idle cost, 20 % penalty = 27.60.
            Reservation("storage_gb_month", "CC-A", D(10_000), D(4_000), D("0.023")),
            # 95 % used: 50 GB idle = 1.15, 20 % penalty = 0.23; over 90 %: incentive 5 % × 950 × 0.023 = 1.09.
            Reservation("storage_gb_month", "CC-B", D(1_000), D(950), D("0.023")),
            Reservation("cluster_vcpu_hours", "CC-A", D(720), D(360), D("0.04")),
        ],
        POLICIES,
    )
    a_storage, b_storage, a_cluster = lines
    assert (a_storage.idle_cost, a_storage.penalty, a_storage.incentive) == (D("138.00"), D("27.60"), D("0.00"))
    assert (b_storage.idle_cost, b_storage.penalty, b_storage.incentive) == (D("1.15"), D("0.23"), D("-1.09"))
    assert b_storage.utilisation == D("0.95")
    # 360 idle vCPU-hours × 0.04 = 14.40, 50 % → 7.20; no incentive configured for the cluster.
    assert (a_cluster.idle_cost, a_cluster.penalty, a_cluster.incentive) == (D("14.40"), D("7.20"), D("0.00"))
    assert idle_cost_by_target(lines) == {"CC-A": D("152.40"), "CC-B": D("1.15")}
    frame = idle_frame(lines)
    assert frame.height == 3
    assert frame["penalty"].sum() == D("35.03")


def test_overuse_is_not_idle_and_unknown_driver_uses_default() -> None:
    [line] = idle_adjustments([Reservation("iops", "CC-C", D(100), D(130), D(1))], POLICIES,
                              IdlePolicy(penalty_pct=D(10), incentive_pct=D(2), incentive_threshold=D("0.8")))
    assert line.utilisation == 1
    assert (line.idle_cost, line.penalty, line.incentive) == (D("0.00"), D("0.00"), D("-2.00"))
    with pytest.raises(ValueError):
        idle_adjustments([Reservation("iops", "CC-C", D(-1), D(0), D(1))], POLICIES)
