"""Discovery exports for the demo organisation: SCCM (Windows devices), Jamf (Macs) and AWS Config (cloud resources),
written as the files those tools export and loaded through the real ingest pipeline and connectors.

`build(con, seed)` reads the ServiceNow register and the AWS bill already in the store and returns the export
documents plus a `Planted` manifest of the defects it put in on purpose (docs/demo-data.md, "Reconciliation"). It
depends only on the store's register, staff and bill and on the seed, so the same demo always yields byte-identical
files; `load(con, seed)` writes them to a temporary folder and ingests them (real batches: source kind, file name,
SHA-256). Nothing here writes a table directly.
"""

from __future__ import annotations

import csv
import io
import json
import random
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from data.demo_inventory import serial_for
from data.demo_org import COST_CENTERS, stable_hex
from engine.ingest.contract.keys import resource_key
from engine.ingest.pipeline import IngestResult, ingest_file

LOADED_BY = "demo-generator"
SNAPSHOTS = 3                  # AWS Config snapshots: the last three billing periods
DOMAIN = "CORP"                # SCCM names console users DOMAIN\\user

# How many of each defect, as a share of the population it is drawn from (a handful each, ~2-5 %).
SHADOW_SHARE = 0.02            # discovered devices missing from the register (shadow IT)
GHOST_SHARE = 0.02             # in-use register devices no agent reports (lost, stolen, agent broken)
OWNER_SHARE = 0.025            # the agent's user is someone else (handed over without a CMDB update)
SERIAL_SHARE = 0.01            # the agent's serial differs from the register's by one character
CC_SHARE = 0.02                # Jamf's department names another cost centre than the register
RETIRED_REPORTING = 4          # retired in the register, still checking in
BOTH_AGENTS = 4                # Macs that also run the ConfigMgr client
CLOUD_ABSENT_SHARE = 0.03      # billed resources AWS Config does not record
CLOUD_UNBILLED_SHARE = 0.03    # Config resources with no bill line (stopped, empty, idle)
CLOUD_DELETED = 3              # never-billed resources deleted before the last snapshot

# Bill resource id fragment → AWS Config resource type the connector loads as an asset. Billed services AWS Config
# does not record as assets here (SageMaker endpoints, Bedrock, CloudWatch log groups, GuardDuty, Security Hub)
# are not exported and stay "undiscovered" on the cloud coverage tab.
CONFIG_TYPES: list[tuple[str, str, str]] = [
    # (ARN service, resource prefix, resourceType)
    ("ec2", "instance/", "AWS::EC2::Instance"),
    ("ec2", "volume/", "AWS::EC2::Volume"),
    ("ec2", "transit-gateway/", "AWS::EC2::TransitGateway"),
    ("ec2", "natgateway/", "AWS::EC2::NatGateway"),
    ("rds", "db:", "AWS::RDS::DBInstance"),
    ("s3", "", "AWS::S3::Bucket"),
    ("cloudfront", "distribution/", "AWS::CloudFront::Distribution"),
    ("lambda", "function:", "AWS::Lambda::Function"),
    ("dynamodb", "table/", "AWS::DynamoDB::Table"),
    ("redshift", "cluster:", "AWS::Redshift::Cluster"),
    ("backup", "backup-vault:", "AWS::Backup::BackupVault"),
    ("eks", "cluster/", "AWS::EKS::Cluster"),
]
SITE_CODES = {"London HQ": "LON", "Manchester Office": "MAN", "Dallas Office": "DAL", "Rotterdam Office": "RTM",
              "DC-LON-1": "DC1", "DC-DAL-2": "DC2"}
CHASSIS = {"laptop": 10, "desktop": 3, "server": 23}
SHADOW_MODELS = {"sccm": [("Latitude 5540", "Dell Inc.", "laptop"), ("ThinkPad X1 Carbon Gen 12", "LENOVO", "laptop"),
                          ("OMEN 17", "HP", "laptop"), ("OptiPlex Micro 7020", "Dell Inc.", "desktop")],
                 "jamf": [("MacBook Air (M3, 2024)", "Apple", "laptop"), ("Mac mini (M2, 2023)", "Apple", "desktop")]}


@dataclass
class Planted:
    """The defects the generator put in, by what a user sees on the Reconciliation page."""

    shadow: list[str] = field(default_factory=list)            # serials discovered, not in the register
    ghosts: list[str] = field(default_factory=list)            # register asset ids in use, never discovered
    owner: list[str] = field(default_factory=list)             # register asset ids whose agent names another user
    serial: list[str] = field(default_factory=list)            # register asset ids matched on tag, serial differs
    cost_center: list[str] = field(default_factory=list)       # register asset ids whose Jamf department differs
    retired_reporting: list[str] = field(default_factory=list)  # retired register asset ids still discovered
    both_agents: list[str] = field(default_factory=list)       # serials reported by Jamf and by SCCM
    duplicate_serial_device: list[str] = field(default_factory=list)  # the device the register's duplicate hides
    cloud_absent: list[str] = field(default_factory=list)      # billed resource keys Config does not record
    cloud_unbilled: list[str] = field(default_factory=list)    # Config resource keys (active) never billed
    cloud_deleted: list[str] = field(default_factory=list)     # Config resource keys deleted (disposed)


@dataclass
class Exports:
    files: dict[str, bytes]     # file name → content, in load order
    planted: Planted


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def _typo(serial: str) -> str:
    """One character keyed wrong: the classic O/0, I/1, B/8 confusions, else the last character bumped."""
    swaps = {"0": "O", "O": "0", "1": "I", "I": "1", "8": "B", "B": "8", "5": "S", "S": "5"}
    for i in range(len(serial) - 1, 1, -1):
        if serial[i] in swaps:
            return serial[:i] + swaps[serial[i]] + serial[i + 1:]
    last = serial[-1]
    return serial[:-1] + ("A" if last != "A" else "B")


def _take(rng: random.Random, pool: list[Any], share: float, used: set[str], key: str = "asset_id",
          at_least: int = 3) -> list[dict[str, Any]]:
    free = [r for r in pool if r[key] not in used]
    n = min(len(free), max(at_least, round(len(pool) * share)))
    picked = rng.sample(free, n)
    used.update(r[key] for r in picked)
    return sorted(picked, key=lambda r: str(r[key]))


def _register(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = ["asset_id", "asset_tag", "serial", "class", "model", "vendor", "owner", "cost_center_id", "location",
            "lifecycle_status", "purchase_date"]
    rows = con.execute(f"SELECT {', '.join(q for q in cols)} FROM asset WHERE source = 'servicenow' "
                       "AND class IN ('laptop', 'desktop', 'server') ORDER BY asset_id").fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


def _staff(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    # every member of staff holds a Microsoft 365 seat
    return [(str(u), str(c)) for u, c in con.execute(
        "SELECT DISTINCT username, cost_center_id FROM licence_assignment WHERE product LIKE 'Microsoft 365%' "
        "ORDER BY 1").fetchall()]


def _periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT DISTINCT billing_period FROM cost_line WHERE provider = 'AWS' ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows][-SNAPSHOTS:]


def _period_end(period: str) -> date:
    y, m = (int(x) for x in period.split("-"))
    return date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)


def _config_type(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return None
    service, resource = parts[2], parts[5]
    for svc, prefix, rtype in CONFIG_TYPES:
        if svc == service and resource.startswith(prefix):
            return rtype
    return None


def _billed(con: duckdb.DuckDBPyConnection, periods: list[str]) -> list[dict[str, Any]]:
    """One row per AWS resource billed in the snapshot periods, with the tags of its last line."""
    rows = con.execute("""
        SELECT resource_id, sub_account_id, region_id, sku_id, min(charge_period_start),
            arg_max(tag_cost_center, charge_period_start), arg_max(tag_application, charge_period_start),
            arg_max(tag_environment, charge_period_start), arg_max(tags['owner'], charge_period_start),
            arg_max(tags['name'], charge_period_start), list(DISTINCT billing_period ORDER BY billing_period)
        FROM cost_line WHERE provider = 'AWS' AND resource_id IS NOT NULL AND charge_category = 'Usage'
        GROUP BY resource_id, sub_account_id, region_id, sku_id ORDER BY resource_id, sku_id""").fetchall()
    out: dict[str, dict[str, Any]] = {}
    for rid, acct, region, sku, first, cc, app, env, owner, name, seen in rows:
        rtype = _config_type(str(rid))
        if rtype is None or rid in out or not set(seen) & set(periods):
            continue
        out[str(rid)] = {"arn": str(rid), "type": rtype, "account": acct, "region": region, "sku": sku,
                         "first": first, "cc": cc, "app": app, "env": env, "owner": owner, "name": name,
                         "periods": list(seen)}
    return list(out.values())


def _config_item(r: dict[str, Any], status: str, cost_centers: set[str], captured: date) -> dict[str, Any]:
    arn = r["arn"]
    resource = arn.split(":", 5)[5]
    rid = resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    tags: dict[str, str] = {}
    if r.get("name"):
        tags["Name"] = r["name"]
    # AWS tag policies have since removed cost-centre values that name no cost centre (the bill keeps them)
    if r.get("cc") in cost_centers:
        tags["CostCenter"] = r["cc"]
    for key, value in (("Application", r.get("app")), ("Environment", r.get("env")), ("Owner", r.get("owner"))):
        if value:
            tags[key] = value
    sku = str(r.get("sku") or "")
    conf: dict[str, Any] = {}
    if r["type"] == "AWS::EC2::Instance":
        conf["instanceType"] = sku.split(":", 1)[-1] if sku.startswith("BoxUsage:") else "m6i.large"
        conf["state"] = {"name": "running" if status == "OK" else "stopped"}
    elif r["type"] == "AWS::RDS::DBInstance":
        conf["dBInstanceClass"] = sku.split(":", 1)[-1] if ":" in sku else "db.r6g.large"
    elif r["type"] == "AWS::EC2::Volume":
        conf["volumeType"] = sku.rsplit(".", 1)[-1] if "." in sku else "gp3"
    region = "" if r["type"] in ("AWS::S3::Bucket", "AWS::CloudFront::Distribution") else r["region"]
    created = r["first"]
    return {
        "version": "1.3", "configurationItemCaptureTime": f"{captured.isoformat()}T23:00:00.000Z",
        "configurationItemStatus": status, "resourceType": r["type"], "resourceId": rid,
        "resourceName": r.get("name") or rid, "ARN": arn, "awsAccountId": r["account"],
        "awsRegion": region or "us-east-1", "availabilityZone": "Regional" if not region else f"{region}a",
        "resourceCreationTime": f"{created:%Y-%m-%d}T08:00:00.000Z" if created else None,
        "tags": tags, "configuration": conf,
    }


def _unbilled_resource(rng: random.Random, n: int, billed: list[dict[str, Any]], first: date) -> dict[str, Any]:
    """A resource Config records and the bill never charges: a stopped instance, an empty bucket, an idle function."""
    like = rng.choice(billed)
    kind = rng.choice(["instance", "bucket", "function"])
    app_slug = (like.get("app") or "tech").lower()
    name = f"{app_slug}-idle-{stable_hex('unbilled', n, n=10)}"
    acct, region = like["account"], like["region"]
    arn = {"instance": f"arn:aws:ec2:{region}:{acct}:instance/i-{name}",
           "bucket": f"arn:aws:s3:::bucket-{name}",
           "function": f"arn:aws:lambda:{region}:{acct}:function:fn-{name}"}[kind]
    rtype = {"instance": "AWS::EC2::Instance", "bucket": "AWS::S3::Bucket", "function": "AWS::Lambda::Function"}[kind]
    return {**like, "arn": arn, "type": rtype, "sku": "BoxUsage:t3.medium" if kind == "instance" else "",
            "first": first - timedelta(days=rng.randint(30, 400)), "name": name}


def build(con: duckdb.DuckDBPyConnection, seed: int = 42) -> Exports:
    """The discovery export files (name → bytes, in load order) and the defects planted in them."""
    rng = random.Random(f"apportion-demo-discovery|{seed}")
    planted = Planted()
    register = _register(con)
    staff = _staff(con)
    cost_centers = {cc for cc, _, _ in COST_CENTERS}
    periods = _periods(con)
    as_of = _period_end(periods[-1]) if periods else date(2026, 10, 31)

    in_use = [r for r in register if r["lifecycle_status"] == "in_use"]
    retired = [r for r in register if r["lifecycle_status"] == "retired"]
    used: set[str] = set()
    # the register's planted duplicate serial: its second server keeps its own device serial in discovery
    by_serial: dict[str, list[dict[str, Any]]] = {}
    for r in register:
        by_serial.setdefault(str(r["serial"]), []).append(r)
    hidden = {r["asset_id"] for rs in by_serial.values() if len(rs) > 1 for r in rs[1:]}
    used.update(hidden)
    ghosts = _take(rng, in_use, GHOST_SHARE, used)
    users = [r for r in in_use if r["class"] in ("laptop", "desktop") and r["owner"]]
    owner = _take(rng, users, OWNER_SHARE, used)
    serial = _take(rng, in_use, SERIAL_SHARE, used)
    macs = [r for r in in_use if r["vendor"] == "Apple"]
    cc_moved = _take(rng, macs, CC_SHARE, used)
    both = _take(rng, macs, 0, used, at_least=BOTH_AGENTS)
    reporting = sorted(rng.sample(retired, min(RETIRED_REPORTING, len(retired))), key=lambda r: r["asset_id"])
    planted.ghosts = [r["asset_id"] for r in ghosts]
    planted.owner = [r["asset_id"] for r in owner]
    planted.serial = [r["asset_id"] for r in serial]
    planted.cost_center = [r["asset_id"] for r in cc_moved]
    planted.retired_reporting = [r["asset_id"] for r in reporting]
    planted.both_agents = [str(r["serial"]) for r in both]

    ghost_ids = set(planted.ghosts)
    owner_of = {r["asset_id"]: rng.choice([u for u, _ in staff if u != r["owner"]]) for r in owner}
    cc_of = {r["asset_id"]: rng.choice(sorted(cost_centers - {r["cost_center_id"]})) for r in cc_moved}
    devices: list[dict[str, Any]] = []       # what the agents see: one per physical device
    for r in in_use + reporting:
        if r["asset_id"] in ghost_ids:
            continue
        n = int(str(r["asset_id"]).split("-")[1])
        true_serial = str(r["serial"])
        if r["asset_id"] in hidden:   # the register copied another server's serial; the device has its own
            true_serial = serial_for(str(r["vendor"]), n)
            planted.duplicate_serial_device.append(true_serial)
        if r["asset_id"] in planted.serial:
            true_serial = _typo(true_serial)
        devices.append({"serial": true_serial, "tag": r["asset_tag"], "class": r["class"], "model": r["model"],
                        "vendor": r["vendor"], "owner": owner_of.get(r["asset_id"], r["owner"]),
                        "cc": cc_of.get(r["asset_id"], r["cost_center_id"]), "location": r["location"],
                        "agent": "jamf" if r["vendor"] == "Apple" else "sccm", "bought": r["purchase_date"]})
    n_shadow = {a: max(3, round(sum(d["agent"] == a for d in devices) * SHADOW_SHARE)) for a in ("sccm", "jamf")}
    for agent, count in n_shadow.items():
        for k in range(count):
            model, vendor, cls = rng.choice(SHADOW_MODELS[agent])
            user, cc = rng.choice(staff)
            prefix = "C02" if agent == "jamf" else vendor[:2].upper()
            s = f"{prefix}{stable_hex('shadow', agent, k, seed, n=9).upper()}"
            planted.shadow.append(s)
            devices.append({"serial": s, "tag": None, "class": cls, "model": model, "vendor": vendor, "owner": user,
                            "cc": cc, "location": rng.choice(list(SITE_CODES)[:4]), "agent": agent,
                            "bought": as_of - timedelta(days=rng.randint(20, 500))})
    planted.shadow.sort()
    files: dict[str, bytes] = {}

    # AWS Config: one configuration snapshot per period, the newest last
    billed = _billed(con, periods) if periods else []
    absent = {r["arn"] for r in _take(rng, billed, CLOUD_ABSENT_SHARE, set(), key="arn")}
    unbilled = [_unbilled_resource(rng, k, billed, as_of) for k in range(
        max(3, round(len(billed) * CLOUD_UNBILLED_SHARE)))] if billed else []
    deleted = unbilled[:CLOUD_DELETED]
    for r in deleted:
        r["owner"] = None   # nobody's any more: a deleted resource names no owner
    planted.cloud_absent = sorted(k for a in absent if (k := resource_key(a)))
    planted.cloud_deleted = sorted(k for r in deleted if (k := resource_key(r["arn"])))
    planted.cloud_unbilled = sorted(k for r in unbilled[CLOUD_DELETED:] if (k := resource_key(r["arn"])))
    for i, period in enumerate(periods):
        end = _period_end(period)
        items = [_config_item(r, "OK", cost_centers, end) for r in billed
                 if r["arn"] not in absent and period in r["periods"]]
        last = i == len(periods) - 1
        items += [_config_item(r, "ResourceDeleted" if last and r in deleted else "OK", cost_centers, end)
                  for r in unbilled]
        doc = {"fileVersion": "1.0", "configSnapshotId": "-".join(
            stable_hex("snapshot", seed, period, n=32)[j:j + k] for j, k in ((0, 8), (8, 4), (12, 4), (16, 4),
                                                                            (20, 12))),
            "configurationItems": items}
        files[f"AWS_Config_ConfigSnapshot_{period.replace('-', '')}{end.day:02d}.json"] = json.dumps(
            doc, indent=1, default=str).encode()

    # SCCM: a ConfigMgr query over v_R_System / v_GS_SYSTEM_ENCLOSURE / v_GS_COMPUTER_SYSTEM, saved as CSV
    sccm = [d for d in devices if d["agent"] == "sccm"] + [
        {**d, "agent": "sccm"} for d in devices if d["agent"] == "jamf" and d["serial"] in planted.both_agents]
    sccm.sort(key=lambda d: d["serial"])
    rows: list[list[object]] = []
    for k, d in enumerate(sccm):
        user = "" if d["class"] == "server" or not d["owner"] else f"{DOMAIN}\\{d['owner']}"
        prefix = {"laptop": "LT", "desktop": "WS", "server": "SRV"}[d["class"]]
        rows.append([16777220 + k, f"{prefix}-{d['serial'][-6:]}", d["serial"], d["tag"] or "", CHASSIS[d["class"]],
                     d["vendor"], d["model"], user, SITE_CODES.get(str(d["location"]), "STR")])
    files[f"sccm_hardware_inventory_{as_of:%Y%m%d}.csv"] = _csv(
        ["ResourceID", "Name0", "SerialNumber0", "SMBIOSAssetTag0", "ChassisTypes0", "Manufacturer0", "Model0",
         "TopConsoleUser0", "SiteCode"], rows)

    # Jamf Pro: Advanced Search → Export CSV (display-name headers; department = cost-centre code)
    jamf = sorted((d for d in devices if d["agent"] == "jamf"), key=lambda d: d["serial"])
    rows = []
    for k, d in enumerate(jamf):
        owner_text = d["owner"] if k % 3 else f"{d['owner']}@apportion.example"
        checkin = as_of - timedelta(days=rng.randint(0, 6))
        rows.append([1001 + k, f"{d['owner'] or 'mac'}-{d['serial'][-4:]}".lower(), d["serial"], d["tag"] or "",
                     d["model"], owner_text, d["cc"] or "", d["location"] or "", f"{checkin:%Y-%m-%d} 09:14:00"])
    files[f"jamf_computers_{as_of:%Y%m%d}.csv"] = _csv(
        ["Jamf Pro Computer ID", "Computer Name", "Serial Number", "Asset Tag", "Model", "Username", "Department",
         "Building", "Last Check-in"], rows)
    return Exports(files=files, planted=planted)


KINDS = {"AWS_Config": "aws_config", "sccm": "sccm", "jamf": "jamf"}


def load(con: duckdb.DuckDBPyConnection, seed: int = 42) -> tuple[Exports, list[IngestResult]]:
    """Write the exports to a temporary folder and load each through the ingest pipeline, as a user would."""
    exports = build(con, seed)
    results: list[IngestResult] = []
    with tempfile.TemporaryDirectory(prefix="apportion-demo-discovery-") as tmp:
        for name, content in exports.files.items():
            path = Path(tmp) / name
            path.write_bytes(content)
            res = ingest_file(con, path, user=LOADED_BY, isolate=False)
            expected = next(k for prefix, k in KINDS.items() if name.startswith(prefix))
            if res.status != "loaded" or res.kind != expected:
                raise RuntimeError(f"demo discovery export {name} did not load as {expected}: {res.status} "
                                   f"{res.kind} {res.messages}")
            results.append(res)
    return exports, results
