"""Microsoft 365 via Graph: subscribedSkus → licence_entitlement, users → licence_assignment (a pair of files)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.inventory.m365 import CONNECTOR
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

SKUS = FIXTURES / "m365_subscribed_skus.json"
USERS = FIXTURES / "m365_users.json"


def test_both_files_detected() -> None:
    assert detected(SKUS) == "m365"
    assert detected(USERS) == "m365"
    assert claims_no_billing_sample("m365") == []


def test_subscribed_skus_to_entitlements() -> None:
    res = CONNECTOR.parse(SKUS)
    assert res.target_table == "licence_entitlement"
    assert {r["product"]: r["entitlements"] for r in res.frame.to_dicts()} == {
        "SPE_E3": 50, "VISIOCLIENT": 5, "POWER_BI_PRO": 10}
    assert set(res.frame["unit_cost_month"]) == {Decimal("0")}
    assert "2 units in warning/suspended state are not counted as entitlements" in res.warnings


def test_users_to_assignments() -> None:
    res = CONNECTOR.parse(USERS)
    assert res.target_table == "licence_assignment"
    assert res.frame.height == 8
    assert reasons(res) == {6: "missing userPrincipalName"}
    per_product = dict(res.frame.group_by("product").len().iter_rows())
    assert per_product == {"SPE_E3": 4, "VISIOCLIENT": 1, "POWER_BI_PRO": 2,
                           "sku:0c0ffee0-aaaa-bbbb-cccc-000000000001": 1}
    carol = res.frame.filter(res.frame["username"] == "carol@contoso.com").to_dicts()[0]
    assert (carol["cost_center_id"], carol["last_active"]) == ("Engineering", date(2026, 6, 2))  # department fallback
    alice = res.frame.filter(res.frame["username"] == "alice@contoso.com")["cost_center_id"].to_list()
    assert alice == ["CC-ENG", "CC-ENG"]                                                      # employeeOrgData wins
    assert any("not recognised" in w for w in res.warnings)


def test_pipeline(con) -> None:
    assert load(con, SKUS).rows_loaded == 3
    assert load(con, USERS).rows_loaded == 8
    assert count(con, "licence_entitlement") == 3
    assert count(con, "licence_assignment") == 8
    assert count(con, "licence_assignment", "product = 'SPE_E3' AND cost_center_id = 'CC-SAL'") == 1
