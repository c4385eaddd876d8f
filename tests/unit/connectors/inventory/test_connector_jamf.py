"""Jamf Pro computers: API JSON (computers-inventory) and Advanced Search CSV → asset, with purchasing facts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.inventory.jamf import CONNECTOR, mac_class
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

CSV = FIXTURES / "jamf_advanced_search.csv"
JSON = FIXTURES / "jamf_computers_inventory.json"


def test_both_shapes_detected_as_jamf() -> None:
    assert detected(CSV) == "jamf"
    assert detected(JSON) == "jamf"
    assert claims_no_billing_sample("jamf") == []


def test_csv_maps_purchasing_to_asset_money_and_life() -> None:
    res = CONNECTOR.parse(CSV)
    assert (res.rows_read, res.frame.height, res.quarantine.height) == (7, 4, 3)
    alice = res.frame.filter(res.frame["serial"] == "C02ZK1ABMD6M").to_dicts()[0]
    assert alice["cost"] == Decimal("2399.00")                     # "2,399.00" → asset.cost
    assert alice["useful_life_months"] == 48                       # Life Expectancy 4 years
    assert alice["purchase_date"] == date(2023, 3, 14)             # PO Date
    assert alice["warranty_expires"] == date(2026, 3, 14)
    assert alice["purchase_order"] == "PO-88121"
    assert (alice["owner"], alice["cost_center_id"], alice["location"]) == ("alice", "Engineering", "HQ London / 3.14")
    assert (alice["class"], alice["asset_id"], alice["asset_tag"]) == ("laptop", "jamf:C02ZK1ABMD6M", "AT-50001")
    mini = res.frame.filter(res.frame["serial"] == "C07ZX9ABPJH7").to_dicts()[0]
    assert (mini["class"], mini["useful_life_months"], mini["asset_tag"]) == ("desktop", None, None)
    assert res.frame["cost"].sum() == Decimal("6646.00")


def test_csv_quarantine_missing_serial_bad_date_negative_price() -> None:
    q = reasons(CONNECTOR.parse(CSV))
    assert q[4] == "missing serial"
    assert q[5].startswith("bad date '31/13/2024' in PO Date")
    assert q[6] == "negative price -1199.00 in Purchase Price"


def test_api_json() -> None:
    res = CONNECTOR.parse(JSON)
    assert (res.rows_read, res.frame.height) == (4, 3)
    assert reasons(res) == {4: "missing serial"}
    bob = res.frame.filter(res.frame["serial"] == "FVFXC2ABQ6L4").to_dicts()[0]
    assert (bob["cost"], bob["useful_life_months"], bob["purchase_date"]) == (Decimal("1299.00"), 36, date(2023, 4, 2))
    assert bob["cost_center_id"] is None                           # departmentId only: not a cost centre
    assert any("by id" in w for w in res.warnings)
    assert res.frame.filter(res.frame["serial"] == "C07ZX9ABPJH7")["useful_life_months"].to_list() == [None]


def test_mac_classes() -> None:
    assert [mac_class(m) for m in ("MacBook Air (M2)", "iMac (24-inch)", "Mac mini (M2)", "Mac Studio", None)] == [
        "laptop", "desktop", "desktop", "desktop", "laptop"]


def test_pipeline_second_export_replaces_by_asset_id(con) -> None:
    first = load(con, CSV)
    assert (first.rows_loaded, first.rows_quarantined) == (4, 3)
    second = load(con, JSON)
    assert (second.rows_loaded, second.rows_quarantined) == (3, 1)
    assert count(con, "asset", "source = 'jamf'") == 4               # 3 of the JSON's serials were in the CSV
    assert con.sql("SELECT cost, useful_life_months FROM asset WHERE serial = 'FVFXC2ABQ6L4'").fetchall() == [
        (Decimal("1299.00"), 36)]
