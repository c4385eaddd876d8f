"""IdP sign-ins → active users per app (application) and per department within each app (cost_center)."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.usage.saas_signin import CONNECTOR
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

FILE = FIXTURES / "signins" / "InteractiveSignIns_2026-10-01_2026-11-03.csv"


def test_detected() -> None:
    assert detected(FILE) == "saas_signin"
    assert claims_no_billing_sample("saas_signin") == []


def test_entra_csv_active_users() -> None:
    res = CONNECTOR.parse(FILE)
    got = {(r["period"], r["driver"], r["target_id"]): r["quantity"] for r in res.frame.to_dicts()}
    assert got == {
        ("2026-10", "active_users", "Salesforce"): 3.0,       # alice twice counts once; erin failed
        ("2026-10", "active_users", "Miro"): 2.0,
        ("2026-11", "active_users", "Salesforce"): 1.0,
        ("2026-10", "active_users:Salesforce", "CC-ENG"): 1.0,
        ("2026-10", "active_users:Salesforce", "CC-FIN"): 1.0,
        ("2026-10", "active_users:Salesforce", "CC-SAL"): 1.0,   # 'dan' in user-departments.csv, by login
        ("2026-10", "active_users:Miro", "CC-ENG"): 1.0,
        ("2026-10", "active_users:Miro", "UNASSIGNED"): 1.0,
        ("2026-11", "active_users:Salesforce", "CC-FIN"): 1.0,
    }
    assert reasons(res) == {9: "bad date 'yesterday' in date (expected YYYY-MM-DD or MM/DD/YYYY)"}
    assert res.warnings[0] == "1 unsuccessful sign-ins or non-sign-in events not counted"


def test_graph_and_okta_json(tmp_path: Path) -> None:
    graph = tmp_path / "signins.json"
    graph.write_text(json.dumps({"value": [
        {"createdDateTime": "2026-10-02T08:00:00Z", "userPrincipalName": "a@x.com", "appDisplayName": "Slack",
         "status": {"errorCode": 0}},
        {"createdDateTime": "2026-10-03T08:00:00Z", "userPrincipalName": "b@x.com", "appDisplayName": "Slack",
         "status": {"errorCode": 50126}}]}))
    res = CONNECTOR.parse(graph)
    assert [(r["driver"], r["target_id"], r["quantity"]) for r in res.frame.to_dicts()] == [
        ("active_users", "Slack", 1.0), ("active_users:Slack", "UNASSIGNED", 1.0)]
    okta = tmp_path / "okta.json"
    okta.write_text(json.dumps([
        {"published": "2026-10-05T10:00:00.000Z", "eventType": "user.authentication.sso",
         "actor": {"alternateId": "c@x.com", "type": "User"}, "outcome": {"result": "SUCCESS"},
         "target": [{"type": "AppInstance", "displayName": "Zoom"}, {"type": "AppUser", "displayName": "C"}]},
        {"published": "2026-10-05T10:01:00.000Z", "eventType": "user.session.start",
         "actor": {"alternateId": "c@x.com"}, "outcome": {"result": "SUCCESS"}, "target": []}]))
    res = CONNECTOR.parse(okta)
    assert [(r["driver"], r["target_id"], r["quantity"]) for r in res.frame.to_dicts()] == [
        ("active_users", "Zoom", 1.0), ("active_users:Zoom", "UNASSIGNED", 1.0)]


def test_pipeline(con) -> None:
    res = load(con, FILE)
    assert (res.rows_loaded, res.rows_quarantined) == (9, 1)
    assert count(con, "driver_value", "driver = 'active_users'") == 3
