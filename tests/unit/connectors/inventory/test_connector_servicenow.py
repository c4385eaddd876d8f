"""ServiceNow alm_hardware CSV (display values) and cmdb_ci Table API JSON (display_value=all) → asset."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.inventory.servicenow import CONNECTOR, lifecycle
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

ALM = FIXTURES / "servicenow_alm_hardware.csv"
CMDB = FIXTURES / "servicenow_cmdb_ci.json"


def test_detected() -> None:
    assert detected(ALM) == "servicenow"
    assert detected(CMDB) == "servicenow"
    assert claims_no_billing_sample("servicenow") == []


def test_alm_hardware_csv() -> None:
    res = CONNECTOR.parse(ALM)
    assert (res.rows_read, res.frame.height) == (9, 7)
    assert reasons(res) == {
        8: "bad date '2023-02-30' in purchase_date (expected YYYY-MM-DD or MM/DD/YYYY)",
        9: "missing serial and asset tag (nothing to reconcile on)"}
    rows = {r["asset_tag"]: r for r in res.frame.to_dicts()}
    a = rows["AT-50001"]
    assert a["asset_id"] == "servicenow:8a5c3e1d1b2f4210a6c8d0e2f4a6b8c1"
    assert (a["serial"], a["owner"], a["cost_center_id"], a["class"], a["lifecycle_status"]) == (
        "C02ZK1ABMD6M", "alice", "CC-ENG", "laptop", "in_use")
    assert (a["cost"], a["purchase_date"], a["warranty_expires"], a["depreciation_method"]) == (
        Decimal("2399.00"), date(2023, 3, 14), date(2026, 3, 14), "straight_line")
    assert rows["AT-10077"]["serial"] is None
    assert rows["AT-20001"]["class"] == "server"
    assert rows["AT-10500"]["lifecycle_status"] == "disposed"          # Retired + substatus Disposed
    assert res.frame["cost"].sum() == Decimal("23258.00")


def test_cmdb_ci_table_api_display_value_all() -> None:
    res = CONNECTOR.parse(CMDB)
    assert (res.rows_read, res.frame.height, res.quarantine.height) == (4, 4, 0)
    rows = {r["asset_id"]: r for r in res.frame.to_dicts()}
    vm = rows["servicenow:4a2b3c4d5e6f708192a3b4c5d6e7f801"]
    assert (vm["serial"], vm["class"], vm["cost_center_id"], vm["environment"]) == (
        "i-0a1b2c3d4e5f60718", "cloud_instance", "CC-100", "production")
    srv = rows["servicenow:3f1c2d3e4b5a69788796a5b4c3d2e1f0"]
    assert (srv["model"], srv["vendor"], srv["location"]) == (
        "HPE ProLiant DL380 Gen10", "Hewlett Packard Enterprise", "New York DC")
    assert rows["servicenow:6c4d5e6f708192a3b4c5d6e7f8091a23"]["class"] == "network"
    assert res.warnings == ["1 rows carry owner/cost centre as sys_ids; export with display values "
                            "(sysparm_display_value=true) so they match the other inventories"]


def test_install_status_numbers_and_labels() -> None:
    assert [lifecycle(s, None) for s in ("1", "6", "7", "Installed", "In stock", "Absent", "9")] == [
        "in_use", "in_stock", "retired", "in_use", "in_stock", "retired", "in_stock"]
    assert lifecycle("Retired", "Sold") == "disposed"


def test_pipeline(con) -> None:
    assert load(con, ALM).rows_loaded == 7
    assert load(con, CMDB).rows_loaded == 4
    assert count(con, "asset", "source = 'servicenow'") == 11
    assert count(con, "quarantine_row") == 2
