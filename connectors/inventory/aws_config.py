"""AWS Config → asset (cloud resources), from the three shapes an AWS Config user ends up holding.

- Configuration snapshot delivered to S3: `{"fileVersion", "configSnapshotId", "configurationItems": [{
  "configurationItemStatus", "resourceType", "resourceId", "resourceName", "ARN", "awsAccountId", "awsRegion",
  "availabilityZone", "resourceCreationTime", "tags": {...}, "configuration": {...}}]}`.
- `aws configservice select-resource-config` output: `{"Results": ["<item JSON>", ...], "QueryInfo": {...}}`
  (the API spells `arn`/`accountId`; tags come as `[{"key", "value"}]`).
- Advanced query results exported as CSV from the console: one column per selected property (`resourceId`,
  `resourceType`, `awsRegion`, `arn`, `configuration.instanceType`, `tags` as JSON text, ...).

Only resource types that are billed become assets; IAM roles, security groups, subnets and the like are counted in a
warning, not quarantined (they are valid, just not things that cost money). Deleted resources load as 'disposed' so
reconciliation and lifecycle events can see them go. asset_id is 'aws_config:' + the canonical resource key
(engine/ingest/contract/keys.py), the same key reconciliation derives from a bill's ResourceId.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors._kit.source_rows import (
    ASSET_SCHEMA,
    Collector,
    FramePlan,
    RowError,
    asset_record,
    environment,
    parse_date,
    read_csv_rows,
    read_json,
    username,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import arn_region, clean, resource_key

CLASS_BY_TYPE: dict[str, str] = {
    "AWS::EC2::Instance": "cloud_instance",
    "AWS::EC2::Host": "cloud_instance",
    "AWS::ECS::Service": "cloud_instance",
    "AWS::EKS::Cluster": "cloud_instance",
    "AWS::Lambda::Function": "cloud_instance",
    "AWS::AutoScaling::AutoScalingGroup": "cloud_instance",
    "AWS::RDS::DBInstance": "cloud_database",
    "AWS::RDS::DBCluster": "cloud_database",
    "AWS::DynamoDB::Table": "cloud_database",
    "AWS::ElastiCache::CacheCluster": "cloud_database",
    "AWS::Redshift::Cluster": "cloud_database",
    "AWS::OpenSearch::Domain": "cloud_database",
    "AWS::EC2::Volume": "cloud_storage",
    "AWS::S3::Bucket": "cloud_storage",
    "AWS::EFS::FileSystem": "cloud_storage",
    "AWS::Backup::BackupVault": "cloud_storage",
    "AWS::EC2::NatGateway": "cloud_network",
    "AWS::EC2::EIP": "cloud_network",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "cloud_network",
    "AWS::ElasticLoadBalancing::LoadBalancer": "cloud_network",
    "AWS::EC2::TransitGateway": "cloud_network",
    "AWS::EC2::VPNConnection": "cloud_network",
    "AWS::CloudFront::Distribution": "cloud_network",
}

_STATUS = {"OK": "in_use", "ResourceDiscovered": "in_use", "ResourceDeleted": "disposed",
           "ResourceDeletedNotRecorded": "disposed"}

# configuration fields that say what size/model the resource is, per type.
_MODEL_FIELDS = ("instanceType", "dBInstanceClass", "dbInstanceClass", "engine", "runtime", "type", "storageClass",
                 "volumeType", "cacheNodeType", "nodeType")


# Tag spellings of the allocation keys (the same squashed aliases engine/tags/normalise.py uses for cost lines).
_TAG_ALIASES = {"costcenter": "cost_center", "costcentre": "cost_center", "costdepartment": "cost_center",
                "cc": "cost_center", "application": "application", "app": "application", "appname": "application",
                "environment": "environment", "env": "environment", "stage": "environment", "owner": "owner",
                "name": "name"}


def normalise_tags(tags: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in tags.items():
        key = _TAG_ALIASES.get(re.sub(r"[^a-z0-9]", "", k.lower()))
        if key and key not in out and v.strip():
            out[key] = v.strip()
    return out


def _tags(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError:
            return {}
    if isinstance(value, list):
        return {str(t.get("key") or t.get("Key")): str(t.get("value") or t.get("Value") or "")
                for t in value if isinstance(t, dict) and (t.get("key") or t.get("Key"))}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    return {}


def _model(item: dict[str, Any]) -> str | None:
    conf = item.get("configuration")
    if isinstance(conf, str):
        try:
            conf = json.loads(conf)
        except json.JSONDecodeError:
            conf = {}
    if isinstance(conf, dict):
        for f in _MODEL_FIELDS:
            v = conf.get(f)
            if isinstance(v, str) and v:
                return v
    for f in _MODEL_FIELDS:
        v = item.get(f"configuration.{f}")
        if clean(v):
            return str(v)
    return None


@dataclass(frozen=True)
class AwsConfigConnector(FramePlan):
    name: str = "aws_config"
    target_table: str = "asset"
    priority: int = 40
    loads_directly: bool = False
    inventory_role: InventoryRole | None = "discovery"

    def detect(self, sniff: Sniff) -> bool:
        if sniff.columns:
            # Config's property names are camelCase; FOCUS has ResourceId/ResourceType too, so match case exactly
            # and never claim a file that carries cost columns.
            cols = set(sniff.columns)
            return {"resourceId", "resourceType"} <= cols and bool(
                cols & {"arn", "awsRegion", "accountId", "resourceName", "availabilityZone"}) and not (
                cols & {"BilledCost", "EffectiveCost", "lineItem/UnblendedCost", "line_item_unblended_cost"})
        head = sniff.head.decode("utf-8-sig", errors="replace")
        if '"configurationItems"' in head or '"configurationItem"' in head:
            return '"resourceType"' in head
        return '"Results"' in head and "resourceType" in head and "resourceId" in head

    def parse(self, path: Path) -> ParseResult:
        with open(path, "rb") as f:
            first = f.read(4096).decode("utf-8-sig", errors="replace").lstrip()[:1]
        out = Collector(path.name, ASSET_SCHEMA)
        if first in ("{", "["):
            items = self._json_items(path, out)
        else:
            _, rows = read_csv_rows(path)
            items = list(rows)
        skipped: dict[str, int] = {}
        for n, item in items:
            out.rows_read += 1
            rtype = clean(item.get("resourceType"))
            if rtype is None:
                out.refuse(n, "resourceType", "missing resourceType", item)
                continue
            cls = CLASS_BY_TYPE.get(rtype)
            if cls is None:
                skipped[rtype] = skipped.get(rtype, 0) + 1
                continue
            status = clean(item.get("configurationItemStatus")) or "OK"
            if status == "ResourceNotRecorded":
                skipped[f"{rtype} (not recorded)"] = skipped.get(f"{rtype} (not recorded)", 0) + 1
                continue
            arn = clean(item.get("ARN") or item.get("arn"))
            rid = clean(item.get("resourceId"))
            key = resource_key(arn) or resource_key(rid)
            if key is None:
                out.refuse(n, "resourceId", "missing resourceId and ARN", item)
                continue
            tags = normalise_tags(_tags(item.get("tags")))
            region = clean(item.get("awsRegion")) or arn_region(arn)
            try:
                rec = asset_record(
                    self.name, key,
                    serial=key,
                    asset_tag=clean(item.get("resourceName")) or tags.get("name"),
                    **{"class": cls},
                    model=_model(item),
                    vendor="AWS",
                    owner=username(tags.get("owner")),
                    cost_center_id=tags.get("cost_center"),
                    app_id=tags.get("application"),
                    location=clean(item.get("availabilityZone")) if clean(item.get("availabilityZone")) not in (
                        None, "Not Applicable", "Multiple Availability Zones", "Regional") else region,
                    environment=environment(tags.get("environment")),
                    lifecycle_status=_STATUS.get(status, "in_use"),
                    purchase_date=parse_date(item.get("resourceCreationTime"), "resourceCreationTime"),
                )
            except RowError as exc:
                out.refuse(n, exc.column, exc.reason, item)
                continue
            out.accept(n, rec, item, key=key, key_column="resourceId")
        if skipped:
            listed = ", ".join(f"{t} ×{c}" for t, c in sorted(skipped.items()))
            out.warnings.append(f"{sum(skipped.values())} configuration items are not billed resources and were "
                                f"not loaded as assets: {listed}")
        return out.result(self.name, self.target_table)

    def _json_items(self, path: Path, out: Collector) -> list[tuple[int, dict[str, Any]]]:
        doc = read_json(path)
        if isinstance(doc, dict) and isinstance(doc.get("configurationItems"), list):
            raw_items: list[Any] = doc["configurationItems"]
        elif isinstance(doc, dict) and isinstance(doc.get("Results"), list):
            raw_items = doc["Results"]
        elif isinstance(doc, dict) and isinstance(doc.get("configurationItem"), dict):
            raw_items = [doc["configurationItem"]]  # a single change notification
        elif isinstance(doc, list):
            raw_items = doc
        else:
            raise FileRefused(path.name, "an AWS Config snapshot ({\"configurationItems\": [...]}) or "
                                         "select-resource-config output ({\"Results\": [...]})")
        items: list[tuple[int, dict[str, Any]]] = []
        for n, it in enumerate(raw_items, start=1):
            if isinstance(it, str):
                try:
                    it = json.loads(it)
                except json.JSONDecodeError as exc:
                    out.rows_read += 1
                    out.refuse(n, None, f"result {n} is not JSON ({exc.msg})", it)
                    continue
            if not isinstance(it, dict):
                out.rows_read += 1
                out.refuse(n, None, "configuration item is not a JSON object", it)
                continue
            items.append((n, it))
        return items


CONNECTOR: Connector = AwsConfigConnector()
