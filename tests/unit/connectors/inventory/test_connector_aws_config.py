"""AWS Config snapshot / advanced query → cloud assets keyed by normalised resource id."""

from __future__ import annotations

from datetime import date

from connectors.inventory.aws_config import CONNECTOR
from engine.ingest.contract.keys import resource_key
from tests.unit.inventory_helpers import FIXTURES, claims_no_billing_sample, count, detected, load, reasons

SNAP = FIXTURES / "aws_config_snapshot.json"
QUERY = FIXTURES / "aws_config_advanced_query.csv"


def test_detected_and_focus_never_claimed() -> None:
    assert detected(SNAP) == "aws_config"
    assert detected(QUERY) == "aws_config"
    assert claims_no_billing_sample("aws_config") == []


def test_arn_normalisation() -> None:
    assert resource_key("arn:aws:ec2:eu-west-1:123456789012:instance/i-0a1b2c3d4e5f60718") == "i-0a1b2c3d4e5f60718"
    assert resource_key("arn:aws-cn:ec2:cn-north-1:123456789012:volume/vol-0123456789abcdef0") == (
        "vol-0123456789abcdef0")
    assert resource_key("arn:aws:s3:::acme-logs-eu") == "acme-logs-eu"
    assert resource_key("arn:aws-us-gov:rds:us-gov-west-1:1:db:x") == "arn:aws:rds:us-gov-west-1:1:db:x"
    assert resource_key("/subscriptions/ABC/resourceGroups/RG/providers/X/y/") == (
        "/subscriptions/abc/resourcegroups/rg/providers/x/y")
    assert resource_key(" i-0abc ") == "i-0abc"


def test_snapshot_rows_classes_tags_and_status() -> None:
    res = CONNECTOR.parse(SNAP)
    assert (res.rows_read, res.frame.height) == (9, 6)
    assert res.warnings == ["2 configuration items are not billed resources and were not loaded as assets: "
                            "AWS::EC2::SecurityGroup ×1, AWS::IAM::Role ×1"]
    assert list(reasons(res).values()) == [
        "bad date 'last tuesday' in resourceCreationTime (expected YYYY-MM-DD or MM/DD/YYYY)"]
    rows = {r["asset_id"]: r for r in res.frame.to_dicts()}
    rds = "aws_config:arn:aws:rds:eu-west-1:123456789012:db:orders-prod"
    assert set(rows) == {"aws_config:i-0a1b2c3d4e5f60718", "aws_config:i-0fedcba9876543210",
                         "aws_config:vol-0123456789abcdef0", rds, "aws_config:acme-logs-eu",
                         "aws_config:i-0deadbeef00000001"}
    web = rows["aws_config:i-0a1b2c3d4e5f60718"]
    assert (web["class"], web["model"], web["cost_center_id"], web["app_id"], web["environment"], web["location"]) == (
        "cloud_instance", "m6i.large", "CC-100", "storefront", "production", "eu-west-1a")
    assert web["purchase_date"] == date(2025, 2, 11)
    batch = rows["aws_config:i-0fedcba9876543210"]
    assert (batch["cost_center_id"], batch["environment"]) == ("CC-200", "production")   # 'cost-center', 'prod'
    assert rows[rds]["class"] == "cloud_database"
    assert rows["aws_config:acme-logs-eu"]["location"] == "eu-west-1"                      # 'Regional' → region
    assert rows["aws_config:i-0deadbeef00000001"]["lifecycle_status"] == "disposed"


def test_advanced_query_csv() -> None:
    res = CONNECTOR.parse(QUERY)
    assert (res.rows_read, res.frame.height, res.quarantine.height) == (3, 3, 0)
    assert res.frame.sort("asset_id")["cost_center_id"].to_list() == ["CC-100", None, "CC-200"]
    assert res.frame.sort("asset_id")["model"].to_list() == ["m6i.large", "r6i.2xlarge", "c6g.xlarge"]


def test_pipeline(con) -> None:
    res = load(con, SNAP)
    assert (res.rows_loaded, res.rows_quarantined) == (6, 1)
    assert count(con, "asset", "class LIKE 'cloud%'") == 6
