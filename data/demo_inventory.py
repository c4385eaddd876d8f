"""On-prem assets, software licences, allocation drivers and budgets for the demo organisation."""

from __future__ import annotations

import random
from datetime import date, timedelta

import duckdb
import polars as pl

from data.demo_billing import SPIKES, period_factor
from data.demo_org import COST_CENTERS, App, stable_hex

LOCATIONS_OFFICE = ["London HQ", "Manchester Office", "Dallas Office", "Rotterdam Office"]
LOCATIONS_DC = ["DC-LON-1", "DC-DAL-2"]
STORE_CCS = {"CC001", "CC002", "CC006"}
WAREHOUSE_CCS = {"CC030", "CC031"}

# class: (models with vendor and unit cost, useful life months, depreciation method, convention)
ASSET_CLASSES: dict[str, tuple[list[tuple[str, str, float]], int, str, str]] = {
    "laptop": ([("Latitude 7440", "Dell", 1450.0), ("MacBook Pro 14", "Apple", 2399.0),
                ("ThinkPad T14 Gen 5", "Lenovo", 1280.0)], 36, "straight_line", "full_month"),
    "desktop": ([("OptiPlex 7010", "Dell", 980.0), ("EliteDesk 800 G9", "HP", 890.0)], 48, "straight_line",
                "full_month"),
    "server": ([("PowerEdge R760", "Dell", 18500.0), ("ProLiant DL380 Gen11", "HPE", 16900.0),
                ("ThinkSystem SR650 V3", "Lenovo", 15800.0)], 60, "straight_line", "mid_month"),
    "storage": ([("AFF A400", "NetApp", 185000.0), ("FlashArray//X50", "Pure Storage", 240000.0)], 60, "ddb",
                "mid_month"),
    "network": ([("Catalyst 9300-48P", "Cisco", 8400.0), ("PA-3440", "Palo Alto Networks", 42000.0),
                 ("7050X3", "Arista", 26000.0)], 60, "straight_line", "full_month"),
}

LICENCES: list[tuple[str, str, int, float]] = [
    ("Microsoft 365 E3", "Microsoft", 1850, 36.00),
    ("Microsoft 365 E5", "Microsoft", 450, 57.00),
    ("Adobe Creative Cloud", "Adobe", 150, 84.99),
    ("Salesforce Sales Cloud", "Salesforce", 260, 165.00),
    ("Jira Software", "Atlassian", 650, 8.15),
    ("Confluence", "Atlassian", 900, 6.05),
    ("Slack Business+", "Salesforce", 2250, 12.50),
    ("Zoom Workplace", "Zoom", 500, 18.32),
    ("GitHub Enterprise", "GitHub", 450, 21.00),
    ("Tableau Creator", "Salesforce", 60, 75.00),
    ("ServiceNow ITSM", "ServiceNow", 90, 100.00),
]
TABLEAU_SEATS = 68  # deliberately more than the 60 entitlements: the over-assigned product

REVENUE_BUS = {"BU01": 2_400_000.0, "BU02": 1_700_000.0, "BU03": 1_300_000.0}  # per cost centre per month


def serial_for(vendor: str, n: int) -> str:
    """The device serial of the register's n-th asset (what its BIOS says; discovery reports it)."""
    return f"{vendor[:2].upper()}{stable_hex('serial', vendor, n, n=10).upper()}"


def assets(rng: random.Random, staff: list[tuple[str, str, str]], apps: list[App], as_of: date) -> pl.DataFrame:
    rows: list[dict[str, object]] = []

    def add(cls: str, owner: str | None, cc: str | None, app_id: str | None, location: str | None,
            env: str | None, status: str, age_months: int) -> None:
        models, life, method, conv = ASSET_CLASSES[cls]
        model, vendor, cost = rng.choice(models)
        n = len(rows) + 1
        bought = as_of - timedelta(days=int(age_months * 30.4 + rng.randint(0, 29)))
        rows.append({
            "asset_id": f"AST-{n:06d}", "asset_tag": f"IT-{n:06d}", "serial": serial_for(vendor, n), "class": cls,
            "model": model, "vendor": vendor, "owner": owner, "cost_center_id": cc, "app_id": app_id,
            "location": location, "environment": env, "lifecycle_status": status, "purchase_date": bought,
            "cost": round(cost * rng.uniform(0.92, 1.05), 2), "residual": round(cost * (0.1 if cls in (
                "server", "storage") else 0.0), 2), "useful_life_months": life, "depreciation_method": method,
            "depreciation_convention": conv, "source": "servicenow", "batch_id": "demo-assets",
            "purchase_order": f"PO-{bought.year}-{n:06d}",
            "warranty_expires": date(bought.year + (3 if cls in ("laptop", "desktop") else 5), bought.month, 1),
        })

    def office(cc: str) -> str:
        if cc in STORE_CCS:
            return f"Store #{rng.randint(1, 120):03d}"
        if cc in WAREHOUSE_CCS:
            return rng.choice(["Warehouse Leeds", "Warehouse Fort Worth"])
        return rng.choice(LOCATIONS_OFFICE)

    laptop_users = [s for s in staff if s[2] not in STORE_CCS][:1500]
    for user, _, cc in laptop_users:
        add("laptop", user, cc, None, office(cc), None, "in_use", rng.randint(0, 40))
    desktop_users = [s for s in staff if s[2] in STORE_CCS | WAREHOUSE_CCS][:380]
    for user, _, cc in desktop_users:
        add("desktop", user, cc, None, office(cc), None, "in_use", rng.randint(0, 52))
    for _ in range(60):
        add("laptop", None, "CC039", None, "London HQ", None, "in_stock", rng.randint(0, 4))
    for _ in range(45):
        add("laptop", None, "CC039", None, "London HQ", None, "retired", rng.randint(38, 70))
    normal = [a for a in apps if not a.app_id.startswith("SHR-")]
    shared = {a.app_id: a for a in apps if a.app_id.startswith("SHR-")}
    for i in range(150):
        app = shared["SHR-K8S"] if i < 20 else shared["SHR-BKP"] if i < 28 else rng.choice(normal)
        env = "prod" if rng.random() < 0.7 else "nonprod"
        add("server", app.owner, app.cost_center_id, app.app_id, rng.choice(LOCATIONS_DC), env, "in_use",
            rng.randint(0, 62))
    for _ in range(12):
        add("storage", shared["SHR-BKP"].owner, "CC036", "SHR-BKP", rng.choice(LOCATIONS_DC), "prod", "in_use",
            rng.randint(0, 58))
    for i in range(70):
        app = shared["SHR-SEC"] if i % 10 == 0 else shared["SHR-NET"]
        add("network", app.owner, app.cost_center_id, app.app_id,
            rng.choice(LOCATIONS_DC + LOCATIONS_OFFICE), "prod", "in_use", rng.randint(0, 70))
    # Data-quality defects for the DQ rules (documented in docs/demo-data.md).
    for r in rows[100:115]:
        r["location"] = None                                   # 15 assets without a location
    retired = [r for r in rows if r["lifecycle_status"] == "retired"]
    for k, r in enumerate(retired[:12]):
        r["owner"], r["cost_center_id"] = staff[-1 - k][0], staff[-1 - k][2]   # 12 retired laptops still assigned
    servers = [r for r in rows if r["class"] == "server"]
    servers[41]["serial"] = servers[40]["serial"]               # duplicate serial
    for r in servers[140:143]:
        r["app_id"] = None                                     # 3 prod servers without an application
        r["environment"] = "prod"
    return pl.DataFrame(rows, infer_schema_length=None)


def licences(rng: random.Random, staff: list[tuple[str, str, str]], as_of: date
             ) -> tuple[pl.DataFrame, pl.DataFrame]:
    ent = pl.DataFrame(
        [{"product": p, "vendor": v, "entitlements": n, "unit_cost_month": c, "batch_id": "demo-licences"}
         for p, v, n, c in LICENCES])
    bu = {cc: b for cc, _, b in COST_CENTERS}
    rows: list[dict[str, object]] = []

    def seat(product: str, user: str, cc: str) -> None:
        stale = rng.random() < 0.07
        last = as_of - timedelta(days=rng.randint(95, 400) if stale else rng.randint(0, 20))
        assigned = min(last, as_of - timedelta(days=rng.randint(30, 1100)))
        rows.append({"product": product, "username": user, "cost_center_id": cc, "assigned_on": assigned,
                     "last_active": last, "batch_id": "demo-licences"})

    for user, _, cc in staff:
        b = bu[cc]
        seat("Microsoft 365 E5" if b in ("BU04", "BU06") else "Microsoft 365 E3", user, cc)
        seat("Slack Business+", user, cc)
        if cc in ("CC004", "CC011", "CC018", "CC020"):
            seat("Adobe Creative Cloud", user, cc)
        if b == "BU02":
            seat("Salesforce Sales Cloud", user, cc)
        if b in ("BU03", "BU06"):
            seat("Jira Software", user, cc)
        if b in ("BU03", "BU04", "BU06"):
            seat("Confluence", user, cc)
        if b == "BU03" or cc in ("CC035", "CC038", "CC040"):
            seat("GitHub Enterprise", user, cc)
        if cc == "CC039":
            seat("ServiceNow ITSM", user, cc)
        if rng.random() < 0.2:
            seat("Zoom Workplace", user, cc)
    analysts = [s for s in staff if s[2] in ("CC008", "CC019", "CC022", "CC023", "CC029")][:TABLEAU_SEATS]
    for user, _, cc in analysts:
        seat("Tableau Creator", user, cc)
    return ent, pl.DataFrame(rows, infer_schema_length=None)


def drivers(rng: random.Random, staff: list[tuple[str, str, str]], apps: list[App], periods: list[str]
            ) -> pl.DataFrame:
    heads: dict[str, int] = {}
    for _, _, cc in staff:
        heads[cc] = heads.get(cc, 0) + 1
    normal = [a for a in apps if not a.app_id.startswith("SHR-")]
    tenants = {a.app_id for a in rng.sample(normal, 25)}
    size = {a.app_id: a.weight for a in normal}
    size.update({"SHR-NET": 1.2, "SHR-BKP": 0.8, "SHR-SEC": 1.0, "SHR-K8S": 2.0})
    # driver: (per-unit-of-size base, extra consumers among the shared services)
    metered: dict[str, tuple[float, list[str]]] = {
        "storage_gb_month": (18_000.0, ["SHR-K8S", "SHR-SEC"]),     # SHR-BKP's driver
        "bandwidth_gb": (9_500.0, ["SHR-SEC", "SHR-BKP"]),          # SHR-NET's driver
        "protected_assets": (40.0, ["SHR-NET", "SHR-K8S"]),         # SHR-SEC's driver
        "cpu_hours": (6_000.0, []),                                  # SHR-K8S's driver (tenants only)
        "iops": (2_500.0, []),
        "data_transfer_gb": (4_000.0, []),
    }
    app_mult = {a.app_id: rng.lognormvariate(0, 0.4) for a in apps}
    spike_drivers = {(app, p): f for app, _, svc, p, f in SPIKES if svc == "AWS Data Transfer"}
    rows: list[dict[str, object]] = []
    for p, period in enumerate(periods):
        g = period_factor(p, period)
        batch = f"demo-drivers-{period}"
        for cc, _, bu in COST_CENTERS:
            hc = max(1, round(heads.get(cc, 1) * (1 + 0.004 * p) + rng.randint(-2, 2)))
            rows.append({"period": period, "driver": "headcount", "target_kind": "cost_center", "target_id": cc,
                         "quantity": float(hc), "batch_id": batch})
            if bu in REVENUE_BUS:
                rev = REVENUE_BUS[bu] * heads.get(cc, 1) / 40 * g * rng.uniform(0.93, 1.07)
                rows.append({"period": period, "driver": "revenue", "target_kind": "cost_center", "target_id": cc,
                             "quantity": round(rev, 2), "batch_id": batch})
        for driver, (base, extra) in metered.items():
            if driver == "cpu_hours":
                targets = sorted(tenants)
            else:
                targets = [a.app_id for a in normal] + extra
            for app_id in targets:
                q = base * size[app_id] * app_mult[app_id] * g * rng.uniform(0.9, 1.1)
                if driver in ("bandwidth_gb", "data_transfer_gb"):
                    q *= spike_drivers.get((app_id, p), 1.0)
                rows.append({"period": period, "driver": driver, "target_kind": "application", "target_id": app_id,
                             "quantity": round(q, 3), "batch_id": batch})
    return pl.DataFrame(rows)


BUDGET_SQL = """
INSERT INTO budget
WITH direct AS (
    SELECT l.billing_period AS period,
        coalesce(o.unit_id, a.cost_center_id) AS cc, sum(l.effective_cost) AS amt
    FROM cost_line l
    LEFT JOIN org_unit o ON o.unit_id = l.tag_cost_center AND o.kind = 'cost_center'
    LEFT JOIN account_owner a ON a.provider = l.provider AND a.sub_account_id = l.sub_account_id
    GROUP BY ALL
), avg_direct AS (
    SELECT cc, avg(amt) AS amt FROM direct WHERE cc IS NOT NULL GROUP BY cc
), lic AS (
    SELECT la.cost_center_id AS cc, sum(e.unit_cost_month) AS amt
    FROM licence_assignment la JOIN licence_entitlement e USING (product) GROUP BY ALL
), heads AS (
    SELECT target_id AS cc, avg(quantity) AS hc FROM driver_value WHERE driver = 'headcount' GROUP BY ALL
), shared AS (
    SELECT sum(amt) AS amt FROM avg_direct WHERE cc IN ('CC035', 'CC036', 'CC037', 'CC038')
), base AS (
    SELECT o.unit_id AS cc,
        coalesce(d.amt, 0) + coalesce(l.amt, 0)
        + CASE WHEN o.unit_id IN ('CC035', 'CC036', 'CC037', 'CC038') THEN -0.95 * coalesce(d.amt, 0)
               ELSE (SELECT amt FROM shared) * h.hc / (SELECT sum(hc) FROM heads WHERE cc NOT IN
                   ('CC035', 'CC036', 'CC037', 'CC038')) END AS amt
    FROM org_unit o
    LEFT JOIN avg_direct d ON d.cc = o.unit_id
    LEFT JOIN lic l ON l.cc = o.unit_id
    LEFT JOIN heads h ON h.cc = o.unit_id
    WHERE o.kind = 'cost_center'
)
SELECT p.period, b.cc,
    CAST(round(CAST(b.amt AS DOUBLE) * p.g * (0.85 + 0.3 * ((hash(b.cc, p.period, $seed) % 1001) / 1000.0)), -2)
        AS DECIMAL(18, 2))
FROM base b CROSS JOIN _demo_periods p
"""


def insert_budgets(con: duckdb.DuckDBPyConnection, periods: list[str], seed: int) -> None:
    """Budget per cost centre and month: its average allocated cost (direct cloud by tag or account owner,
    licences, a headcount share of the shared services) scaled by the plan curve, ±15%, rounded to $100."""
    avg_g = sum(period_factor(i, p) for i, p in enumerate(periods)) / len(periods)
    frame = pl.DataFrame({"period": periods, "g": [period_factor(i, p) / avg_g for i, p in enumerate(periods)]})
    con.register("_demo_periods", frame)
    con.execute(BUDGET_SQL, {"seed": seed})
    con.unregister("_demo_periods")
