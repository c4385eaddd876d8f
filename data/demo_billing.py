"""FOCUS-shaped cloud billing for the demo organisation, generated set-based in DuckDB.

A few thousand *resources* are drawn in Python (provider, account, service, app, tags, monthly list cost); the
billing *lines* are then produced per period by one INSERT … SELECT over `range()`, with DuckDB's `hash()` as the
deterministic pseudo-random source. No Python code runs per line, so 10M lines take minutes, not hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import polars as pl

from data.demo_org import PROVIDERS, Account, App, stable_hex

MONTHLY_LIST_COST = 2_300_000.0   # list cost of the first month before growth and seasonality
GROWTH_PER_MONTH = 0.012
SEASONALITY = {11: 1.05, 12: 1.11, 1: 0.94, 2: 0.96, 7: 0.98, 8: 0.97}
UNTAGGED_SHARE = 0.068            # of list cost, on resources; unused commitments and tax add the rest
MISTAGGED_SHARE = 0.025
MISTAG_VALUES = ["cc-12", "marketing", "CC-7", "finance", "tbd", "cc0015", "retail"]
SHARED_SHARE = {"SHR-NET": 0.045, "SHR-BKP": 0.03, "SHR-SEC": 0.035, "SHR-K8S": 0.085}
TECH_INTERNAL_SHARE = 0.012
EDP_DISCOUNT = {"AWS": 0.06, "Microsoft": 0.04, "Google Cloud": 0.05}
TAX_RATE = {"Microsoft": Decimal("0.0065"), "Google Cloud": Decimal("0.0045")}
REGIONS = {
    "AWS": (["us-east-1", "us-west-2", "eu-west-1"], [0.6, 0.25, 0.15]),
    "Microsoft": (["eastus", "westeurope", "centralus"], [0.5, 0.3, 0.2]),
    "Google Cloud": (["us-central1", "europe-west1"], [0.7, 0.3]),
}

# Spikes: (app, provider, service name, period index counted from the first period, factor).
SPIKES: list[tuple[str, str, str, int, float]] = [
    ("APP018", "AWS", "Amazon Elastic Compute Cloud", 7, 3.0),
    ("APP047", "AWS", "AWS Data Transfer", 9, 4.0),
    ("APP052", "Microsoft", "Storage", 10, 2.5),
]


@dataclass(frozen=True)
class Service:
    provider: str
    name: str
    category: str
    resource_type: str
    sku: str
    unit: str
    unit_price: float
    weight: float
    role: str           # app, or the shared app it serves: SHR-NET, SHR-BKP, SHR-SEC, SHR-K8S
    path: str           # resource id fragment (provider-specific)
    commit: bool = False
    spot: bool = False


def _s(*a: object, **kw: bool) -> Service:
    return Service(*a, **kw)  # type: ignore[arg-type]


CATALOGUE: list[Service] = [
    _s("AWS", "Amazon Elastic Compute Cloud", "Compute", "Instance", "BoxUsage:m6i.xlarge", "Hours", 0.192, 30,
       "app", "ec2:instance/i-", commit=True, spot=True),
    _s("AWS", "Amazon Relational Database Service", "Databases", "DB Instance", "InstanceUsage:db.r6g.large", "Hours",
       0.26, 12, "app", "rds:db:db-", commit=True),
    _s("AWS", "Amazon Simple Storage Service", "Storage", "Bucket", "TimedStorage-ByteHrs", "GB-Mo", 0.023, 10, "app",
       "s3:::bucket-"),
    _s("AWS", "Amazon Elastic Block Store", "Storage", "Volume", "EBS:VolumeUsage.gp3", "GB-Mo", 0.08, 6, "app",
       "ec2:volume/vol-"),
    _s("AWS", "AWS Data Transfer", "Networking", "Data Transfer", "DataTransfer-Out-Bytes", "GB", 0.09, 4, "app",
       "ec2:instance/i-"),
    _s("AWS", "Amazon CloudFront", "Networking", "Distribution", "DataTransfer-Out-Bytes", "GB", 0.085, 3, "app",
       "cloudfront:distribution/E"),
    _s("AWS", "AWS Lambda", "Compute", "Function", "Lambda-GB-Second", "GB-Seconds", 0.0000166667, 3, "app",
       "lambda:function:fn-"),
    _s("AWS", "Amazon DynamoDB", "Databases", "Table", "ReadCapacityUnit-Hrs", "ReadCapacityUnit-Hrs", 0.00013, 3,
       "app", "dynamodb:table/tbl-"),
    _s("AWS", "Amazon Redshift", "Analytics", "Cluster", "Node:ra3.xlplus", "Hours", 1.086, 3, "app",
       "redshift:cluster:rs-"),
    _s("AWS", "Amazon SageMaker", "AI and Machine Learning", "Endpoint", "ml.g5.xlarge-Hosting", "Hours", 1.408, 2,
       "app", "sagemaker:endpoint/ep-"),
    _s("AWS", "Amazon Bedrock", "AI and Machine Learning", "Model Invocation", "input-tokens", "1K Tokens", 0.003, 1.5,
       "app", "bedrock:model/m-"),
    _s("AWS", "Amazon CloudWatch", "Management and Governance", "Log Group", "DataProcessing-Bytes", "GB", 0.5, 2,
       "app", "logs:log-group:/app/"),
    _s("AWS", "AWS Transit Gateway", "Networking", "Transit Gateway", "TransitGateway-Hours", "Hours", 0.05, 3,
       "SHR-NET", "ec2:transit-gateway/tgw-"),
    _s("AWS", "Amazon Virtual Private Cloud", "Networking", "NAT Gateway", "NatGateway-Bytes", "GB", 0.045, 3,
       "SHR-NET", "ec2:natgateway/nat-"),
    _s("AWS", "AWS Backup", "Storage", "Backup Vault", "WarmStorage-ByteHrs-EBS", "GB-Mo", 0.05, 4, "SHR-BKP",
       "backup:backup-vault:vault-"),
    _s("AWS", "Amazon S3 Glacier Deep Archive", "Storage", "Bucket", "TimedStorage-GDA-ByteHrs", "GB-Mo", 0.00099, 2,
       "SHR-BKP", "s3:::archive-"),
    _s("AWS", "Amazon GuardDuty", "Security", "Detector", "PaidEventsAnalyzed", "Events", 0.000001, 3, "SHR-SEC",
       "guardduty:detector/d-"),
    _s("AWS", "AWS Security Hub", "Security", "Hub", "PaidComplianceCheck", "Checks", 0.001, 2, "SHR-SEC",
       "securityhub:hub/h-"),
    _s("AWS", "Amazon Elastic Kubernetes Service", "Compute", "Cluster", "AmazonEKS-Hours:perCluster", "Hours", 0.1, 1,
       "SHR-K8S", "eks:cluster/eks-"),
    _s("AWS", "Amazon Elastic Compute Cloud", "Compute", "Instance", "BoxUsage:m6i.2xlarge", "Hours", 0.384, 6,
       "SHR-K8S", "ec2:instance/i-", commit=True, spot=True),
    _s("Microsoft", "Virtual Machines", "Compute", "Virtual Machine", "D4s v5", "Hours", 0.192, 25, "app",
       "Microsoft.Compute/virtualMachines/vm-", commit=True, spot=True),
    _s("Microsoft", "Azure SQL Database", "Databases", "SQL Database", "General Purpose vCore", "Hours", 0.505, 10,
       "app", "Microsoft.Sql/servers/sql-", commit=True),
    _s("Microsoft", "Storage", "Storage", "Storage Account", "Hot LRS Data Stored", "GB-Mo", 0.0184, 8, "app",
       "Microsoft.Storage/storageAccounts/st"),
    _s("Microsoft", "Bandwidth", "Networking", "Bandwidth", "Standard Data Transfer Out", "GB", 0.087, 3, "app",
       "Microsoft.Network/publicIPAddresses/pip-"),
    _s("Microsoft", "Azure App Service", "Compute", "App Service Plan", "P1 v3", "Hours", 0.25, 5, "app",
       "Microsoft.Web/serverfarms/asp-"),
    _s("Microsoft", "Azure Cosmos DB", "Databases", "Cosmos DB Account", "100 RU/s", "Hours", 0.008, 3, "app",
       "Microsoft.DocumentDB/databaseAccounts/cosmos-"),
    _s("Microsoft", "Azure OpenAI Service", "AI and Machine Learning", "Cognitive Services Account", "gpt-4o Input",
       "1K Tokens", 0.0025, 2, "app", "Microsoft.CognitiveServices/accounts/oai-"),
    _s("Microsoft", "Azure Synapse Analytics", "Analytics", "Workspace", "Serverless SQL Pool", "TB", 5.0, 2, "app",
       "Microsoft.Synapse/workspaces/syn-"),
    _s("Microsoft", "Azure Monitor", "Management and Governance", "Log Analytics Workspace", "Pay-as-you-go Data "
       "Ingestion", "GB", 2.3, 2, "app", "Microsoft.OperationalInsights/workspaces/log-"),
    _s("Microsoft", "Azure Firewall", "Networking", "Firewall", "Standard Deployment", "Hours", 1.25, 3, "SHR-NET",
       "Microsoft.Network/azureFirewalls/afw-"),
    _s("Microsoft", "Virtual Network", "Networking", "Virtual Network", "VNet Peering Inbound", "GB", 0.01, 2,
       "SHR-NET", "Microsoft.Network/virtualNetworks/vnet-"),
    _s("Microsoft", "Azure Backup", "Storage", "Recovery Services Vault", "Protected Instances", "Instances", 10.0, 3,
       "SHR-BKP", "Microsoft.RecoveryServices/vaults/rsv-"),
    _s("Microsoft", "Microsoft Sentinel", "Security", "Workspace", "Pay-as-you-go Analysis", "GB", 2.46, 3, "SHR-SEC",
       "Microsoft.OperationalInsights/workspaces/sentinel-"),
    _s("Microsoft", "Microsoft Defender for Cloud", "Security", "Subscription", "Defender for Servers P2", "Hours",
       0.02, 2, "SHR-SEC", "Microsoft.Security/pricings/def-"),
    _s("Microsoft", "Azure Kubernetes Service", "Compute", "Managed Cluster", "Standard Uptime SLA", "Hours", 0.1, 1,
       "SHR-K8S", "Microsoft.ContainerService/managedClusters/aks-"),
    _s("Microsoft", "Virtual Machines", "Compute", "Virtual Machine Scale Set", "D8s v5", "Hours", 0.384, 4,
       "SHR-K8S", "Microsoft.Compute/virtualMachineScaleSets/vmss-", commit=True),
    _s("Google Cloud", "Compute Engine", "Compute", "Instance", "N2 Instance Core running in Americas", "Hours",
       0.0315, 20, "app", "compute.googleapis.com/instances/gce-", commit=True, spot=True),
    _s("Google Cloud", "BigQuery", "Analytics", "Dataset", "Analysis", "TiB", 6.25, 12, "app",
       "bigquery.googleapis.com/datasets/ds_"),
    _s("Google Cloud", "Cloud Storage", "Storage", "Bucket", "Standard Storage US Multi-region", "GiB-Mo", 0.026, 8,
       "app", "storage.googleapis.com/buckets/gcs-"),
    _s("Google Cloud", "Cloud SQL", "Databases", "Instance", "Cloud SQL for PostgreSQL: vCPU", "Hours", 0.0413, 4,
       "app", "sqladmin.googleapis.com/instances/pg-"),
    _s("Google Cloud", "Vertex AI", "AI and Machine Learning", "Endpoint", "Online Prediction n1-standard-4", "Hours",
       0.219, 3, "app", "aiplatform.googleapis.com/endpoints/vx-"),
    _s("Google Cloud", "Networking", "Networking", "Network Egress", "Network Internet Egress Americas", "GiB", 0.12, 2,
       "app", "compute.googleapis.com/networks/net-"),
    _s("Google Cloud", "Cloud Logging", "Management and Governance", "Log Bucket", "Log Volume", "GiB", 0.5, 1, "app",
       "logging.googleapis.com/buckets/log-"),
    _s("Google Cloud", "Google Kubernetes Engine", "Compute", "Cluster", "Autopilot Pod vCPU", "Hours", 0.0445, 5,
       "SHR-K8S", "container.googleapis.com/clusters/gke-"),
]

COMMITMENTS: list[tuple[str, str, str, float, float]] = [
    # (commitment id, provider, service covered, discount vs list, average utilisation)
    ("arn:aws:savingsplans::948203316604:savingsplan/sp-0c4e1f2a9b7d", "AWS", "Amazon Elastic Compute Cloud",
     0.28, 0.97),
    ("arn:aws:savingsplans::948203316604:savingsplan/sp-5a91d03e6c28", "AWS", "Amazon Elastic Compute Cloud",
     0.22, 0.93),
    ("arn:aws:rds:us-east-1:948203316604:ri:rds-ri-prod-r6g-01", "AWS", "Amazon Relational Database Service",
     0.35, 0.86),
    ("/providers/Microsoft.Capacity/reservationOrders/7f3c2a10/reservations/vm-d4sv5-3y", "Microsoft",
     "Virtual Machines", 0.33, 0.95),
    ("/providers/Microsoft.Capacity/reservationOrders/91be0c44/reservations/sql-gp-vcore-1y", "Microsoft",
     "Azure SQL Database", 0.30, 0.72),
    ("projects/k8s-platform/regions/us-central1/commitments/cud-n2-3y", "Google Cloud", "Compute Engine", 0.37, 0.99),
]
COMMITMENT_TYPE = {"AWS": "Savings Plan", "Microsoft": "Reservation", "Google Cloud": "Committed Use Discount"}
COMMITMENT_SERVICE_NAME = {
    "AWS": "Savings Plans for AWS Compute usage", "Microsoft": "Azure Reservations", "Google Cloud": "Committed Use "
    "Discounts",
}


def _num(v: object) -> float:
    assert isinstance(v, int | float)
    return float(v)


def period_labels(end_period: str, months: int) -> list[str]:
    y, m = map(int, end_period.split("-"))
    out = []
    for i in range(months - 1, -1, -1):
        mm = (y * 12 + m - 1) - i
        out.append(f"{mm // 12:04d}-{mm % 12 + 1:02d}")
    return out


def period_bounds(period: str) -> tuple[date, date]:
    y, m = map(int, period.split("-"))
    start = date(y, m, 1)
    end = date(y + (m == 12), m % 12 + 1, 1)
    return start, end


def period_factor(index: int, period: str) -> float:
    return float((1 + GROWTH_PER_MONTH) ** index * SEASONALITY.get(int(period[5:]), 1.0))


def _resource_id(svc: Service, acct: Account, region: str, name: str) -> str:
    if svc.provider == "AWS":
        service, _, rest = svc.path.partition(":")
        reg = "" if service in ("s3", "cloudfront") else region
        return f"arn:aws:{service}:{reg}:{acct.sub_account_id}:{rest}{name}"
    if svc.provider == "Microsoft":
        return (f"/subscriptions/{acct.sub_account_id}/resourceGroups/rg-{acct.name}/providers/"
                f"{svc.path}{name}")
    host, _, rest = svc.path.partition("/")
    return f"//{host}/projects/{acct.sub_account_id}/{rest}{name}"


def build_resources(rng: random.Random, apps: list[App], accts: list[Account], n_target: int) -> pl.DataFrame:
    """One row per billable resource with its monthly list cost and the factors that turn list into billed,
    effective and contracted cost."""
    by_bu: dict[tuple[str, str | None, str | None], Account] = {}
    shared_acct: dict[tuple[str, str], Account] = {}
    for a in accts:
        if a.app_id:
            shared_acct[(a.app_id, a.provider)] = a
        elif a.bu_id:
            by_bu[(a.provider, a.bu_id, a.environment)] = a
    tech_internal = next(a for a in accts if a.name == "technology-internal")
    normal = [a for a in apps if not a.app_id.startswith("SHR-")]
    total_w = sum(a.weight for a in normal)
    normal_share = 1.0 - sum(SHARED_SHARE.values()) - TECH_INTERNAL_SHARE
    budgets: list[tuple[App | None, float]] = [(a, normal_share * a.weight / total_w) for a in normal]
    budgets += [(next(a for a in apps if a.app_id == sid), share) for sid, share in SHARED_SHARE.items()]
    budgets.append((None, TECH_INTERNAL_SHARE))
    spike_of = {(app, svc): (p, f) for app, _, svc, p, f in SPIKES}

    rows: list[dict[str, object]] = []

    def account_for(app: App | None, provider: str, env: str) -> Account:
        if app is None:
            return tech_internal
        if app.app_id.startswith("SHR-"):
            return shared_acct.get((app.app_id, provider)) or shared_acct[(app.app_id, "AWS")]
        if provider == "AWS":
            return by_bu.get(("AWS", app.bu_id, "prod" if env == "prod" else "nonprod"), tech_internal)
        return by_bu.get((provider, app.bu_id, None)) or account_for(app, "AWS", env)

    def add(app: App | None, svc: Service, weight: float, env: str) -> None:
        acct = account_for(app, svc.provider, env)
        if acct.provider != svc.provider:
            svc = next(s for s in CATALOGUE if s.provider == acct.provider and s.category == svc.category
                       and (s.role == "app" or s.role == (app.app_id if app else "")))
        regions, rw = REGIONS[svc.provider]
        region = rng.choices(regions, rw)[0]
        n = len(rows)
        app_slug = (app.app_id if app else "tech").lower()
        rid = _resource_id(svc, acct, region, f"{app_slug}-{stable_hex(n, svc.sku, n=12)}")
        pricing, cid, disc = "Standard", None, EDP_DISCOUNT[svc.provider]
        if svc.commit and env == "prod" and rng.random() < 0.55:
            options = [c for c in COMMITMENTS if c[1] == svc.provider and c[2] == svc.name]
            if options:
                c = rng.choice(options)
                pricing, cid, disc = "Committed", c[0], c[3]
        elif svc.spot and env != "prod" and rng.random() < 0.4:
            pricing, disc = "Dynamic", 0.68
        edp = EDP_DISCOUNT[svc.provider]
        spike = spike_of.get((app.app_id if app else "", svc.name), (-1, 1.0))
        rows.append({
            "r": n, "app_id": app.app_id if app else None, "provider": svc.provider,
            "billing_account_id": PROVIDERS[svc.provider]["billing_account"], "sub_account_id": acct.sub_account_id,
            "service_name": svc.name, "service_category": svc.category, "resource_id": rid,
            "resource_type": svc.resource_type, "region_id": region, "sku_id": svc.sku,
            "pricing_category": pricing, "commitment_discount_id": cid, "unit": svc.unit,
            "unit_price": svc.unit_price, "weight": weight, "drift": rng.uniform(-0.015, 0.03),
            "f_billed": 0.0 if pricing == "Committed" else 1 - disc, "f_effective": 1 - disc,
            "f_contracted": 1 - disc if pricing == "Dynamic" else 1 - edp,
            "env": env, "owner": app.owner if app else None, "cost_center": app.cost_center_id if app else "CC039",
            "spike_p": spike[0], "spike_f": spike[1], "tag_mode": "tagged", "sub_account_name": acct.name,
            "bu": app.bu_id if app else "BU06",
            "commitment_discount_type": COMMITMENT_TYPE[svc.provider] if cid else None,
            "charge_description": f"{svc.sku} ({svc.unit}, {pricing})",
        })

    per_res = 1.0 / max(n_target, 1)
    for app, share in budgets:
        role = app.app_id if app and app.app_id.startswith("SHR-") else "app"
        pool = [s for s in CATALOGUE if s.role == role]
        if role == "app" and app is not None:
            primary = app.primary_provider
            pool_w = [s.weight * (4.0 if s.provider == primary else 0.5) for s in pool]
        else:
            pool_w = [s.weight * (3.0 if s.provider == "AWS" else 1.0) for s in pool]
        start = len(rows)
        for spike_app, prov, svc_name, _, _ in SPIKES:
            if app and app.app_id == spike_app:
                svc = next(s for s in pool if s.provider == prov and s.name == svc_name)
                for _ in range(4):
                    add(app, svc, 0.3 / 4 * 3, "prod")
        if role != "app":
            for svc in pool:  # every shared service appears on every provider it runs on
                add(app, svc, rng.lognormvariate(0, 0.6) * svc.weight / 3, "prod")
        count = max(3, round(share / per_res))
        for _ in range(count):
            env = rng.choices(["prod", "staging", "dev"], [0.65, 0.15, 0.2])[0] if role == "app" else "prod"
            add(app, rng.choices(pool, pool_w)[0], rng.lognormvariate(0, 1.0), env)
        w = sum(_num(rows[i]["weight"]) for i in range(start, len(rows)))
        for i in range(start, len(rows)):
            rows[i]["base"] = MONTHLY_LIST_COST * share * _num(rows[i]["weight"]) / w

    # Untagged and mis-tagged spend: walk normal apps' resources in a seeded order until the share is reached.
    order = [i for i, r in enumerate(rows) if r["app_id"] and not str(r["app_id"]).startswith("SHR-")
             and r["spike_p"] == -1]
    rng.shuffle(order)
    total = sum(_num(r["base"]) for r in rows)
    acc = 0.0
    for i in order:
        row = rows[i]
        if acc < UNTAGGED_SHARE * total:
            row["tag_mode"] = "untagged_name" if rng.random() < 0.5 else "untagged_null"
        elif acc < (UNTAGGED_SHARE + MISTAGGED_SHARE) * total:
            row["tag_mode"] = "mistagged"
        else:
            break
        acc += _num(row["base"])
    for row in rows:
        mode = row["tag_mode"]
        tagged = mode in ("tagged", "mistagged")
        row["tag_cc"] = (rng.choice(MISTAG_VALUES) if mode == "mistagged" else row["cost_center"]) if tagged else None
        row["tag_app"] = row["app_id"] if tagged and (mode == "tagged" or rng.random() < 0.5) else None
        row["tag_env"] = row["env"] if tagged else None
        row["tag_owner"] = row["owner"] if tagged else None
        row["resource_name"] = str(row["resource_id"]).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        row["tag_name"] = row["resource_name"] if mode != "untagged_null" else None
        row["tag_org"] = row["bu"] if mode == "tagged" else None
    df = pl.DataFrame(rows, infer_schema_length=None)
    return df.drop("weight", "owner")


def insert_lines(con: duckdb.DuckDBPyConnection, resources: pl.DataFrame, periods: list[str], usage_lines: int,
                 seed: int, batch_ids: dict[str, str], invoices: pl.DataFrame) -> None:
    con.register("_demo_res_df", resources)
    con.register("_demo_inv_df", invoices)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _demo_res AS
        SELECT *,
            CASE WHEN tag_mode = 'untagged_null' THEN NULL ELSE map_from_entries(list_filter([
                {'k': 'cost_center', 'v': tag_cc}, {'k': 'application', 'v': tag_app},
                {'k': 'environment', 'v': tag_env}, {'k': 'owner', 'v': tag_owner}, {'k': 'org', 'v': tag_org},
                {'k': 'name', 'v': tag_name}],
                lambda x: x.v IS NOT NULL)) END AS tags
        FROM _demo_res_df""")
    con.execute("CREATE OR REPLACE TEMP TABLE _demo_inv AS SELECT * FROM _demo_inv_df")
    con.unregister("_demo_res_df")
    con.unregister("_demo_inv_df")
    n_res = resources.height
    if usage_lines // len(periods) < n_res:
        raise ValueError(f"{usage_lines} usage lines cannot give each of {n_res} resources a line every month")
    cols = ", ".join(sorted(cost_line_columns(con) & _LINE_COLUMNS))
    for p, period in enumerate(periods):
        start, end = period_bounds(period)
        np_ = (usage_lines - p + len(periods) - 1) // len(periods)
        con.execute(f"INSERT INTO cost_line BY NAME SELECT {cols} FROM ({_LINES_SQL}) x", {
            "np": np_, "nres": n_res, "seed": seed, "p": p, "period": period, "start": start,
            "days": (end - start).days, "g": period_factor(p, period), "batch": batch_ids[period],
        })


_LINES_SQL = """
WITH l AS (
    SELECT k, k % $nres AS r,
        (hash(k, $seed, $p, 1) % 1000003) / 1000003.0 AS u1,
        CAST(hash(k, $seed, $p, 2) % $days AS INTEGER) AS d
    FROM range($np) t(k)
), c AS (
    SELECT l.d, res.*,
        res.base * $g * (1 + res.drift * $p)
            * CASE WHEN res.spike_p = $p THEN res.spike_f ELSE 1 END
            * (0.75 + 0.5 * l.u1) / (($np - res.r + $nres - 1) // $nres) AS lc
    FROM l JOIN _demo_res res ON res.r = l.r
)
SELECT
    $period AS billing_period,
    CAST($start AS TIMESTAMP) + to_days(d) AS charge_period_start,
    CAST($start AS TIMESTAMP) + to_days(d + 1) AS charge_period_end,
    c.provider, billing_account_id, c.sub_account_id, service_name, service_category, resource_id, resource_type,
    region_id, sku_id, 'Usage' AS charge_category, CAST(NULL AS VARCHAR) AS charge_class, pricing_category,
    commitment_discount_id,
    CASE WHEN pricing_category = 'Committed' THEN 'Used' END AS commitment_discount_status,
    CAST(round(lc * f_billed, 10) AS DECIMAL(38, 10)) AS billed_cost,
    CAST(round(lc * f_effective, 10) AS DECIMAL(38, 10)) AS effective_cost,
    CAST(round(lc, 10) AS DECIMAL(38, 10)) AS list_cost,
    CAST(round(lc * f_contracted, 10) AS DECIMAL(38, 10)) AS contracted_cost,
    round(lc / unit_price, 6) AS consumed_quantity, unit AS consumed_unit,
    round(lc / unit_price, 6) AS pricing_quantity, unit AS pricing_unit,
    'USD' AS billing_currency, tags,
    tag_cc AS tag_cost_center, tag_app AS tag_application, tag_env AS tag_environment,
    i.invoice_id, $batch AS batch_id,
    tag_owner, tag_org, commitment_discount_type, 'Usage-Based' AS charge_frequency, sub_account_name,
    region_id AS region_name, resource_name, charge_description
FROM c JOIN _demo_inv i ON i.sub_account_id = c.sub_account_id AND i.billing_period = $period
"""


_LINE_COLUMNS = {
    "billing_period", "charge_period_start", "charge_period_end", "provider", "billing_account_id", "sub_account_id",
    "service_name", "service_category", "resource_id", "resource_type", "region_id", "sku_id", "charge_category",
    "charge_class", "pricing_category", "commitment_discount_id", "commitment_discount_status", "billed_cost",
    "effective_cost", "list_cost", "contracted_cost", "consumed_quantity", "consumed_unit", "pricing_quantity",
    "pricing_unit", "billing_currency", "tags", "tag_cost_center", "tag_application", "tag_environment", "invoice_id",
    "batch_id",
    # columns added by later migrations (0002_ingest); filled when the store has them
    "tag_owner", "tag_org", "commitment_discount_type", "charge_frequency", "sub_account_name", "region_name",
    "resource_name", "charge_description",
}


def cost_line_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'cost_line'").fetchall()}


def _money(x: Decimal, places: str = "0.01") -> Decimal:
    return x.quantize(Decimal(places), rounding=ROUND_HALF_EVEN)


def extra_line_count(accts: list[Account], months: int) -> int:
    taxed = sum(1 for a in accts if a.provider in TAX_RATE)
    return months * (2 * len(COMMITMENTS) + taxed) + len(_CREDITS) + 1


# (period index, provider, sub account name, description, amount)
_CREDITS: list[tuple[int, str, str, str, str]] = [
    *[(i, "Google Cloud", "digital-analytics", "Promotional credit: BigQuery migration programme", "-1850.00")
      for i in range(6)],
    (4, "Microsoft", "sub-digital", "SLA credit: Azure SQL Database availability", "-1240.55"),
]


def insert_extras(con: duckdb.DuckDBPyConnection, rng: random.Random, accts: list[Account], periods: list[str],
                  batch_ids: dict[str, str], invoice_of: dict[tuple[str, str], str]) -> None:
    """Commitment purchases and unused commitment, tax, credits and one correction: a few hundred rows."""
    used = {(r[0], r[1]): r[2] for r in con.execute(
        "SELECT billing_period, commitment_discount_id, sum(effective_cost) FROM cost_line"
        " WHERE commitment_discount_status = 'Used' GROUP BY ALL").fetchall()}
    tax_base = {(r[0], r[1]): r[2] for r in con.execute(
        "SELECT billing_period, sub_account_id, sum(billed_cost) FROM cost_line"
        " WHERE provider IN ('Microsoft', 'Google Cloud') GROUP BY ALL").fetchall()}
    rows: list[dict[str, object]] = []

    def row(period: str, provider: str, sub: str, **kw: object) -> dict[str, object]:
        start, end = period_bounds(period)
        base: dict[str, object] = {
            "billing_period": period, "charge_period_start": start, "charge_period_end": end,
            "provider": provider, "billing_account_id": PROVIDERS[provider]["billing_account"],
            "sub_account_id": sub, "service_name": None, "service_category": None, "resource_id": None,
            "resource_type": None, "region_id": None, "sku_id": None, "charge_category": "Usage",
            "charge_class": None, "pricing_category": None, "commitment_discount_id": None,
            "commitment_discount_status": None, "billed_cost": Decimal(0), "effective_cost": Decimal(0),
            "list_cost": None, "contracted_cost": None, "billing_currency": "USD",
            "tag_cost_center": None, "tag_application": None, "tag_environment": None,
            "invoice_id": invoice_of[(sub, period)], "batch_id": batch_ids[period],
            "charge_frequency": "One-Time", "charge_description": None, "commitment_discount_type": None,
        }
        base.update(kw)
        return base

    for cid, provider, svc_name, _disc, util in COMMITMENTS:
        payer = PROVIDERS[provider]["billing_account"]
        for period in periods:
            u = Decimal(str(round(min(0.995, util + rng.uniform(-0.03, 0.03)), 4)))
            used_amt = used.get((period, cid), Decimal(0))
            fee = _money(used_amt / u)
            category = next(c.category for c in CATALOGUE if c.provider == provider and c.name == svc_name)
            common = {"service_name": COMMITMENT_SERVICE_NAME[provider], "service_category": category,
                      "pricing_category": "Committed", "commitment_discount_id": cid, "charge_frequency": "Recurring",
                      "commitment_discount_type": COMMITMENT_TYPE[provider]}
            rows.append(row(period, provider, payer, charge_category="Purchase", resource_id=cid,
                            resource_type="Commitment", billed_cost=fee, effective_cost=Decimal(0),
                            list_cost=fee, contracted_cost=fee, **common))
            rows.append(row(period, provider, payer, commitment_discount_status="Unused",
                            effective_cost=fee - used_amt, **common))
    for a in accts:
        if a.provider not in TAX_RATE:
            continue
        for period in periods:
            amt = _money(tax_base.get((period, a.sub_account_id), Decimal(0)) * TAX_RATE[a.provider])
            rows.append(row(period, a.provider, a.sub_account_id, charge_category="Tax", service_name="Tax",
                            billed_cost=amt, effective_cost=amt, list_cost=amt, contracted_cost=amt))
    by_name = {(a.provider, a.name): a for a in accts}
    for idx, provider, acct_name, desc, amount in _CREDITS:
        sub = by_name[(provider, acct_name)].sub_account_id
        rows.append(row(periods[idx], provider, sub, charge_category="Credit", service_name=desc,
                        charge_description=desc, billed_cost=Decimal(amount), effective_cost=Decimal(amount)))
    # A correction in period index 8 refunding an S3 overcharge of the previous month.
    corr_acct = by_name[("AWS", "digital-prod")]
    start_prev, end_prev = period_bounds(periods[7])
    amt = Decimal("-3412.17")
    rows.append(row(periods[8], "AWS", corr_acct.sub_account_id, charge_class="Correction",
                    service_name="Amazon Simple Storage Service", service_category="Storage",
                    charge_period_start=start_prev, charge_period_end=end_prev, pricing_category="Standard",
                    billed_cost=amt, effective_cost=amt, list_cost=amt, contracted_cost=amt,
                    tag_cost_center="CC020", tag_application="APP023", tag_environment="prod"))
    schema = {"billed_cost": pl.Decimal(38, 10), "effective_cost": pl.Decimal(38, 10),
              "list_cost": pl.Decimal(38, 10), "contracted_cost": pl.Decimal(38, 10)}
    df = pl.DataFrame(rows, schema_overrides=schema, infer_schema_length=None)
    df = df.select([c for c in df.columns if c in cost_line_columns(con)])
    con.register("_demo_extra_df", df)
    con.execute("""
        INSERT INTO cost_line BY NAME
        SELECT * EXCLUDE (charge_period_start, charge_period_end),
            CAST(charge_period_start AS TIMESTAMP) AS charge_period_start,
            CAST(charge_period_end AS TIMESTAMP) AS charge_period_end,
            CASE WHEN tag_cost_center IS NULL THEN NULL ELSE map_from_entries([
                {'k': 'cost_center', 'v': tag_cost_center}, {'k': 'application', 'v': tag_application},
                {'k': 'environment', 'v': tag_environment}]) END AS tags
        FROM _demo_extra_df""")
    con.unregister("_demo_extra_df")
