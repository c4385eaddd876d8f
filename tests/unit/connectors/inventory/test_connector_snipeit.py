"""Snipe-IT hardware export → asset keyed by asset tag; life from EOL − purchase date."""

from __future__ import annotations

from decimal import Decimal

from connectors.inventory.snipeit import CONNECTOR
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

FILE = FIXTURES / "snipeit_hardware_export.csv"


def test_detected() -> None:
    assert detected(FILE) == "snipeit"
    assert claims_no_billing_sample("snipeit") == []


def test_rows_fields_and_quarantine() -> None:
    res = CONNECTOR.parse(FILE)
    assert (res.rows_read, res.frame.height) == (6, 4)
    assert reasons(res) == {4: "missing asset tag", 6: "'twelve hundred' in Purchase Cost is not an amount"}
    rows = {r["asset_tag"]: r for r in res.frame.to_dicts()}
    lt = rows["AT-10042"]
    assert (lt["asset_id"], lt["serial"], lt["class"], lt["lifecycle_status"], lt["cost"]) == (
        "snipeit:AT-10042", "5CG1234ABC", "laptop", "in_use", Decimal("1450.00"))
    assert (lt["useful_life_months"], lt["purchase_order"], lt["owner"]) == (48, "PO-77001", "john smith")
    assert rows["AT-10090"]["lifecycle_status"] == "in_stock"
    assert (rows["AT-40002"]["class"], rows["AT-40002"]["lifecycle_status"]) == ("network", "retired")
    assert res.frame["cost"].sum() == Decimal("11040.00")


def test_pipeline(con) -> None:
    res = load(con, FILE)
    assert (res.rows_loaded, res.rows_quarantined) == (4, 2)
    assert count(con, "asset") == 4
