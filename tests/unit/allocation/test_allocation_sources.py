"""Source pools beyond cost lines: licence entitlements (seats) and capitalised assets' monthly depreciation."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest
from pydantic import ValidationError

from engine.allocation.runs import run_allocation
from engine.rules import model
from tests.unit.allocation_data import PERIOD, add_driver, add_lines, add_org, posted_by_target

D = Decimal


def test_licences_by_seat_holder_idle_seats_unallocated_and_over_assignment(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"CC1": None, "CC2": None})
    con.execute("INSERT INTO licence_entitlement VALUES ('Suite', 'V', 10, 10.00, 'l1'), ('Viz', 'V', 2, 75.00, 'l1')")
    for product, user, cc in [("Suite", "a", "CC1")] * 6 + [("Suite", "b", "CC2")] * 2 + [("Viz", "c", "CC1")] * 2 \
            + [("Viz", "d", "CC2")]:
        con.execute("INSERT INTO licence_assignment VALUES (?, ?, ?, '2025-06-01', NULL, 'l1')", [product, user, cc])
    add_lines(con, [{"tag_cost_center": "CC2", "effective_cost": 5}])
    rs = model.from_data({"name": "lic", "steps": [
        {"id": "seats", "name": "Licences by seat", "source": {"kind": "licences"}, "method": {"kind": "direct"}},
        {"id": "cloud", "name": "Cloud", "method": {"kind": "direct", "fallback": ["tag"]}},
    ]})
    summary = run_allocation(con, PERIOD, rs)
    # Suite: $100 for 10 seats, 6 + 2 assigned, 2 idle; Viz: $150 for 2 seats but 3 assigned → shared over 3
    assert posted_by_target(con, summary.run_key) == {"CC1": D("160.00"), "CC2": D("75.00"), "UNALLOCATED": D("20.00")}
    assert summary.total_in == D("255") and summary.total_out == D("255.00")
    links = {r[0] for r in con.sql("SELECT driver FROM allocation_result WHERE source_pool = 'seats'").fetchall()}
    assert links == {"seat", "unresolved"}


def test_asset_depreciation_as_a_pool(con: duckdb.DuckDBPyConnection) -> None:
    add_org(con, {"CC1": None, "CC2": None})
    con.execute("INSERT INTO asset (asset_id, class, cost_center_id, purchase_date, cost, residual, useful_life_months,"
                " depreciation_method, depreciation_convention) VALUES"
                " ('SRV-1', 'server', 'CC1', '2025-01-01', 36000, 0, 36, 'straight_line', 'full_month'),"
                " ('SRV-2', 'server', 'CC2', '2025-01-01', 72000, 0, 60, 'straight_line', 'full_month'),"
                " ('LAP-1', 'laptop', 'CC2', '2025-01-01', 1800, 0, 36, 'straight_line', 'full_month')")
    add_driver(con, "headcount", {"CC1": 1, "CC2": 3})
    direct = model.from_data({"name": "dc", "steps": [
        {"id": "servers", "name": "Servers", "source": {"kind": "assets", "filters": [{"field": "class",
                                                                                      "value": "server"}]},
         "method": {"kind": "direct"}}]})
    # 36,000 / 36 = 1,000 and 72,000 / 60 = 1,200 a month; the laptop is below the capex threshold (expensed)
    assert posted_by_target(con, run_allocation(con, PERIOD, direct).run_key) == {"CC1": D("1000.00"),
                                                                                  "CC2": D("1200.00")}
    shared = model.from_data({"name": "dc2", "steps": [
        {"id": "dc", "name": "Data centre", "source": {"kind": "assets"},
         "method": {"kind": "driver", "driver": "headcount"}}]})
    assert posted_by_target(con, run_allocation(con, PERIOD, shared).run_key) == {"CC1": D("550.00"),
                                                                                  "CC2": D("1650.00")}


def test_source_filters_are_checked_against_their_source() -> None:
    with pytest.raises(ValidationError, match="unknown filter field 'service_name' for assets"):
        model.from_data({"name": "x", "steps": [{"id": "a", "name": "A", "method": {"kind": "even"},
                                                 "source": {"kind": "assets",
                                                            "filters": [{"field": "service_name", "value": "x"}]}}]})
