"""Reconciliation on crafted inventories: discovered (Jamf, SCCM, AWS Config) vs records (ServiceNow alm + cmdb)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from connectors.inventory.aws_config import CONNECTOR as AWS
from connectors.inventory.jamf import CONNECTOR as JAMF
from connectors.inventory.m365 import CONNECTOR as M365
from connectors.inventory.sccm import CONNECTOR as SCCM
from connectors.inventory.servicenow import CONNECTOR as SNOW
from engine.reconcile import matching as reconcile
from tests.unit.inventory_helpers import FIXTURES, load

DISCOVERY = [(JAMF, "jamf_computers_inventory.json"), (SCCM, "sccm_hardware_inventory.csv"),
             (AWS, "aws_config_snapshot.json")]
RECORDS = [(SNOW, "servicenow_alm_hardware.csv"), (SNOW, "servicenow_cmdb_ci.json")]


def _frame(parts: list) -> pl.DataFrame:
    return pl.concat([c.parse(FIXTURES / f).frame for c, f in parts])


@pytest.fixture(scope="module")
def result() -> reconcile.Reconciliation:
    return reconcile.match_assets(_frame(DISCOVERY), _frame(RECORDS))


def test_summary_counts(result: reconcile.Reconciliation) -> None:
    assert result.summary() == {"matched": 7, "ghosts": 3, "orphans": 8, "mismatched_owner": 2,
                                "mismatched_cost_center": 0, "mismatched_status": 0, "duplicates": 0}


def test_match_keys(result: reconcile.Reconciliation) -> None:
    on = {r["discovered_asset_id"] + "<" + r["record_asset_id"][-2:]: r["matched_on"]
          for r in result.matches.to_dicts()}
    assert on["sccm:MXL9876XYZ<c4"] == "asset_tag"                     # CMDB row has no serial, tag AT-10077
    assert on["aws_config:i-0a1b2c3d4e5f60718<01"] == "serial"          # cmdb VM object_id = Config ARN, normalised
    assert sorted(result.matches.filter(pl.col("discovered_asset_id") == "sccm:CZ20410ABC")["record_asset_id"]
                  .to_list()) == ["servicenow:3f1c2d3e4b5a69788796a5b4c3d2e1f0",
                                  "servicenow:8a5c3e1d1b2f4210a6c8d0e2f4a6b8c6"]   # alm asset and its CI


def test_ghosts_orphans_mismatches(result: reconcile.Reconciliation) -> None:
    assert sorted(result.ghosts["serial"].to_list()) == ["FOC2231X0AB", "GHOST0001", "i-0aaaabbbbccccdddd"]
    assert "servicenow:8a5c3e1d1b2f4210a6c8d0e2f4a6b8c7" not in result.ghosts["asset_id"].to_list()  # disposed
    assert sorted(result.orphans["asset_id"].to_list()) == [
        "aws_config:acme-logs-eu", "aws_config:arn:aws:rds:eu-west-1:123456789012:db:orders-prod",
        "aws_config:i-0fedcba9876543210", "aws_config:vol-0123456789abcdef0", "jamf:C07ZX9ABPJH7",
        "sccm:PF2ABCDE", "sccm:R52N90ABCD", "sccm:VMWARE-421D2E3F4A5B6C7D-8E9FA0B1C2D3E4F5"]
    owners = {(r["record_value"], r["discovered_value"]) for r in result.mismatches.to_dicts()}
    assert owners == {("carol", "bob"), ("sql service", "svc_sql")}


def test_status_and_cost_centre_mismatch_and_duplicates() -> None:
    disc = pl.DataFrame([{"asset_id": "jamf:S1", "serial": "S1", "owner": "CORP\\Ann", "cost_center_id": "cc-1",
                          "lifecycle_status": "in_use", "class": "laptop"},
                         {"asset_id": "sccm:S1", "serial": "s1", "owner": "ann", "cost_center_id": None,
                          "lifecycle_status": "in_use", "class": "laptop"}])
    recs = pl.DataFrame([{"asset_id": "snow:1", "serial": "S1", "owner": "ann@contoso.com", "cost_center_id": "CC-2",
                          "lifecycle_status": "retired", "class": "laptop"}])
    r = reconcile.match_assets(disc, recs)
    assert r.summary() == {"matched": 1, "ghosts": 0, "orphans": 0, "mismatched_owner": 0,
                           "mismatched_cost_center": 1, "mismatched_status": 1, "duplicates": 1}


def test_cloud_coverage() -> None:
    cov = reconcile.cloud_coverage(AWS.parse(FIXTURES / "aws_config_snapshot.json").frame, [
        "i-0a1b2c3d4e5f60718", "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0123456789abcdef0",
        "arn:aws:s3:::acme-logs-eu", "i-0notinconfig00001"])
    assert sorted(cov["unbilled"]["asset_id"].to_list()) == [
        "aws_config:arn:aws:rds:eu-west-1:123456789012:db:orders-prod", "aws_config:i-0fedcba9876543210"]
    assert cov["undiscovered"]["resource_id"].to_list() == ["i-0notinconfig00001"]


def test_licence_position() -> None:
    ent = M365.parse(FIXTURES / "m365_subscribed_skus.json").frame.with_columns(
        pl.when(pl.col("product") == "SPE_E3").then(36.0).otherwise(pl.col("unit_cost_month").cast(pl.Float64))
        .alias("unit_cost_month"))
    asg = M365.parse(FIXTURES / "m365_users.json").frame
    pos = {r["product"]: r for r in reconcile.licence_position(ent, asg, as_of=date(2026, 11, 30)).to_dicts()}
    e3 = pos["SPE_E3"]
    assert (e3["entitled"], e3["assigned"], e3["active"], e3["inactive"], e3["unassigned"]) == (50, 4, 2, 2, 46)
    assert (e3["idle_cost_month"], e3["position"]) == (1728.0, "surplus")        # (50 − 2 active) × 36
    assert (pos["POWER_BI_PRO"]["assigned"], pos["POWER_BI_PRO"]["active"]) == (2, 1)
    unknown = pos["sku:0c0ffee0-aaaa-bbbb-cccc-000000000001"]
    assert (unknown["entitled"], unknown["shortfall"], unknown["position"]) == (0, 1, "shortfall")
    installs = pl.DataFrame({"product": ["VISIOCLIENT", "VISIOCLIENT"], "installs": [3, 1]})
    with_installs = reconcile.licence_position(ent, asg, installs, as_of=date(2026, 11, 30))
    assert with_installs.filter(pl.col("product") == "VISIOCLIENT")["installed"].to_list() == [4]


def test_lifecycle_events_between_snapshots() -> None:
    before = AWS.parse(FIXTURES / "aws_config_snapshot.json").frame
    after = AWS.parse(FIXTURES / "aws_config_snapshot_next.json").frame
    ev = reconcile.lifecycle_events(before, after)
    assert ev.select("asset_id", "event", "field", "before", "after").rows() == [
        ("aws_config:acme-logs-eu", "decommissioned", None, "in_use", None),
        ("aws_config:i-0123456789abcdef1", "new", None, None, "m6i.large"),
        ("aws_config:i-0fedcba9876543210", "reassigned", "cost_center_id", "CC-200", "CC-300"),
        ("aws_config:i-0a1b2c3d4e5f60718", "upgraded", "model", "m6i.large", "m6i.xlarge"),
    ]
    assert dict(ev.group_by("event").len().iter_rows()) == {"new": 1, "reassigned": 1, "upgraded": 1,
                                                            "decommissioned": 1}


def test_reconcile_from_store_after_real_loads(con) -> None:
    for _, f in DISCOVERY + RECORDS:
        load(con, FIXTURES / f)
    r = reconcile.reconcile_store(con)
    assert r.summary() == {"matched": 7, "ghosts": 3, "orphans": 8, "mismatched_owner": 2,
                           "mismatched_cost_center": 0, "mismatched_status": 0, "duplicates": 0}
    load(con, FIXTURES / "m365_subscribed_skus.json")
    load(con, FIXTURES / "m365_users.json")
    pos = reconcile.licence_position_store(con, as_of=date(2026, 11, 30))
    assert pos.filter(pl.col("product") == "SPE_E3").select("entitled", "assigned", "active").rows() == [(50, 4, 2)]
