"""The demo organisation's dimensions: business units, cost centres, applications, people, cloud accounts.

Everything here is small (hundreds to a few thousand rows) and built with a seeded `random.Random`, so the same
seed always yields the same organisation. docs/demo-data.md lists the ids other code and tests rely on.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import random
from dataclasses import dataclass

import bcrypt

BUSINESS_UNITS: list[tuple[str, str, str]] = [
    ("BU01", "Retail", "Grace Whitfield"),
    ("BU02", "Wholesale", "Marcus Oyelaran"),
    ("BU03", "Digital", "Sofia Lindqvist"),
    ("BU04", "Finance & Corporate", "Henrik Sato"),
    ("BU05", "Operations", "Amara Okafor"),
    ("BU06", "Technology", "Daniel Brennan"),
]

# (cost centre id, name, business unit); CC035..CC038 are Technology's shared-service providers.
COST_CENTERS: list[tuple[str, str, str]] = [
    ("CC001", "Store Operations North", "BU01"), ("CC002", "Store Operations South", "BU01"),
    ("CC003", "Merchandising", "BU01"), ("CC004", "Retail Marketing", "BU01"),
    ("CC005", "Loyalty Programme", "BU01"), ("CC006", "Point of Sale", "BU01"),
    ("CC007", "Retail Pricing", "BU01"), ("CC008", "Store Analytics", "BU01"),
    ("CC009", "Wholesale Sales", "BU02"), ("CC010", "Key Accounts", "BU02"),
    ("CC011", "Trade Marketing", "BU02"), ("CC012", "Order Management", "BU02"),
    ("CC013", "Partner Portal", "BU02"), ("CC014", "Wholesale Pricing", "BU02"),
    ("CC015", "E-commerce Platform", "BU03"), ("CC016", "Mobile Apps", "BU03"),
    ("CC017", "Search & Recommendations", "BU03"), ("CC018", "Digital Marketing", "BU03"),
    ("CC019", "Customer Data Platform", "BU03"), ("CC020", "Content & Media", "BU03"),
    ("CC021", "Digital Payments", "BU03"), ("CC022", "Experimentation", "BU03"),
    ("CC023", "Group Finance", "BU04"), ("CC024", "Treasury", "BU04"),
    ("CC025", "Legal & Compliance", "BU04"), ("CC026", "Human Resources", "BU04"),
    ("CC027", "Procurement", "BU04"), ("CC028", "Internal Audit", "BU04"),
    ("CC029", "Supply Chain Planning", "BU05"), ("CC030", "Warehousing", "BU05"),
    ("CC031", "Transport & Logistics", "BU05"), ("CC032", "Customer Service", "BU05"),
    ("CC033", "Facilities", "BU05"), ("CC034", "Quality & Safety", "BU05"),
    ("CC035", "Network Services", "BU06"), ("CC036", "Backup & Storage Services", "BU06"),
    ("CC037", "Security Operations", "BU06"), ("CC038", "Platform Engineering", "BU06"),
    ("CC039", "IT Service Desk", "BU06"), ("CC040", "Enterprise Architecture", "BU06"),
]

# Shared services run by Technology: (app id, name, cost centre, tier).
SHARED_APPS: list[tuple[str, str, str, str]] = [
    ("SHR-NET", "Enterprise Network (hub, transit, firewalls)", "CC035", "gold"),
    ("SHR-BKP", "Backup & Recovery", "CC036", "gold"),
    ("SHR-SEC", "Security Tooling (SIEM, EDR, posture)", "CC037", "gold"),
    ("SHR-K8S", "Shared Kubernetes Platform", "CC038", "gold"),
]

OWNER_USER = "omar"
OWNER_COST_CENTERS = ["CC015", "CC016", "CC017"]

DEMO_USERS: list[tuple[str, str, str, str]] = [
    # username, password, role, display name
    ("admin", "demo-admin", "admin", "Ada Admin"),
    ("fiona", "demo-finops", "finops", "Fiona FinOps"),
    ("eve", "demo-exec", "executive", "Eve Executive"),
    ("omar", "demo-owner", "app_owner", "Omar Owner"),
    ("audrey", "demo-audit", "auditor", "Audrey Auditor"),
]

APP_NAMES: list[str] = [
    "Store Inventory", "Shelf Planner", "Price Engine", "Promo Manager", "Loyalty Hub", "POS Gateway",
    "Store Workforce", "Retail BI", "Footfall Analytics", "Gift Cards", "Wholesale Orders", "Key Account CRM",
    "Trade Promotions", "EDI Hub", "Partner Portal", "Rebate Calculator", "Webshop", "Mobile App Backend",
    "Search Service", "Recommendations", "Checkout", "Product Catalogue", "CMS", "Customer Data Platform",
    "Email Campaigns", "Ad Attribution", "Payments Gateway", "Fraud Scoring", "A/B Testing", "Media Library",
    "General Ledger", "Consolidation", "Treasury Cash", "Contract Vault", "Compliance Tracker", "HR Core",
    "Payroll", "Recruiting", "Procure-to-Pay", "Audit Workpapers", "Demand Forecast", "Replenishment",
    "Warehouse Mgmt", "Yard Management", "Route Planner", "Fleet Telematics", "Contact Centre", "Case Management",
    "Facilities Booking", "Quality Inspections", "Data Lake", "Enterprise DWH", "ML Platform", "API Gateway",
    "Identity Portal", "Service Desk", "Architecture Repo", "Document Capture", "Sustainability Reporting",
    "Executive Dashboards",
]
APP_HOME_CC: list[str] = [
    "CC001", "CC003", "CC007", "CC004", "CC005", "CC006", "CC002", "CC008", "CC008", "CC005", "CC009", "CC010",
    "CC011", "CC012", "CC013", "CC014", "CC015", "CC016", "CC017", "CC017", "CC015", "CC015", "CC020", "CC019",
    "CC018", "CC018", "CC021", "CC021", "CC022", "CC020", "CC023", "CC023", "CC024", "CC025", "CC025", "CC026",
    "CC026", "CC026", "CC027", "CC028", "CC029", "CC029", "CC030", "CC030", "CC031", "CC031", "CC032", "CC032",
    "CC033", "CC034", "CC019", "CC008", "CC022", "CC040", "CC039", "CC039", "CC040", "CC027", "CC034", "CC023",
]

FIRST = ["james", "maria", "li", "aisha", "tom", "sara", "raj", "emma", "lukas", "chen", "nina", "omari", "paula",
         "ivan", "zoe", "kenji", "laura", "samir", "ella", "diego", "hana", "ben", "yara", "felix", "mei", "noah",
         "ines", "kofi", "anna", "leo", "priya", "oscar", "julia", "arjun", "clara", "mateo", "sofia", "dan"]
LAST = ["smith", "garcia", "wang", "khan", "brown", "novak", "patel", "muller", "silva", "kim", "jones", "rossi",
        "nguyen", "berg", "costa", "ahmed", "taylor", "fischer", "lopez", "sato", "evans", "haddad", "moreau",
        "olsen", "reyes", "walsh", "kowalski", "mensah", "ito", "hughes", "bauer", "dubois", "santos", "clark"]

PROVIDERS: dict[str, dict[str, str]] = {
    "AWS": {"code": "AWS", "billing_account": "948203316604"},
    "Microsoft": {"code": "AZ", "billing_account": "EA-80441275"},
    "Google Cloud": {"code": "GCP", "billing_account": "01F7A3-6C2D90-B84E15"},
}


@dataclass(frozen=True)
class Account:
    provider: str
    sub_account_id: str
    name: str
    cost_center_id: str
    app_id: str | None
    bu_id: str | None
    environment: str | None


@dataclass(frozen=True)
class App:
    app_id: str
    name: str
    owner: str
    cost_center_id: str
    bu_id: str
    tier: str
    sla: str
    primary_provider: str
    weight: float


def stable_hex(*parts: object, n: int = 16) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]


def _guid(*parts: object) -> str:
    h = stable_hex(*parts, n=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def bu_of(cc: str) -> str:
    return next(bu for c, _, bu in COST_CENTERS if c == cc)


def employees(rng: random.Random, count: int = 2200) -> list[tuple[str, str, str]]:
    """(username, display name, cost centre) for the staff; headcount skews to stores, warehouses and digital."""
    cc_weights = {c: 1.0 for c, _, _ in COST_CENTERS}
    for c in ("CC001", "CC002", "CC030", "CC031", "CC032"):
        cc_weights[c] = 6.0
    for c in ("CC015", "CC016", "CC009", "CC029", "CC039"):
        cc_weights[c] = 2.5
    ccs = list(cc_weights)
    weights = [cc_weights[c] for c in ccs]
    seen: set[str] = set()
    out: list[tuple[str, str, str]] = []
    while len(out) < count:
        f, last = rng.choice(FIRST), rng.choice(LAST)
        base = f"{f[0]}{last}"
        user, n = base, 1
        while user in seen:
            n += 1
            user = f"{base}{n}"
        seen.add(user)
        out.append((user, f"{f.title()} {last.title()}", rng.choices(ccs, weights)[0]))
    return out


def applications(rng: random.Random, staff: list[tuple[str, str, str]]) -> list[App]:
    by_cc: dict[str, list[str]] = {}
    for user, _, cc in staff:
        by_cc.setdefault(cc, []).append(user)
    apps: list[App] = []
    tiers = ["gold", "silver", "bronze"]
    sla = {"gold": "99.95%", "silver": "99.9%", "bronze": "99.5%"}
    for i, (name, cc) in enumerate(zip(APP_NAMES, APP_HOME_CC, strict=True), start=1):
        tier = rng.choices(tiers, [0.3, 0.45, 0.25])[0]
        owner = OWNER_USER if cc in OWNER_COST_CENTERS else rng.choice(by_cc[cc])
        provider = rng.choices(list(PROVIDERS), [0.6, 0.28, 0.12])[0]
        weight = {"gold": 3.0, "silver": 1.5, "bronze": 0.6}[tier] * rng.lognormvariate(0, 0.5)
        apps.append(App(f"APP{i:03d}", name, owner, cc, bu_of(cc), tier, sla[tier], provider, weight))
    for app_id, name, cc, tier in SHARED_APPS:
        owner = rng.choice(by_cc[cc])
        apps.append(App(app_id, name, owner, cc, "BU06", tier, sla[tier], "AWS", 0.0))
    return apps


def accounts() -> list[Account]:
    """Sub accounts: per BU a prod and non-prod AWS account, one Azure subscription, a GCP project for two BUs,
    and dedicated accounts for the shared services. Owner cost centre = the BU's first cost centre."""
    out: list[Account] = []
    first_cc: dict[str, str] = {}
    for cc, _, bu in COST_CENTERS:
        first_cc.setdefault(bu, cc)
    for n, (bu, name, _) in enumerate(BUSINESS_UNITS[:5], start=1):
        slug = name.lower().replace(" & ", "-").replace(" ", "-")
        for env, tag in (("prod", "prod"), ("nonprod", "dev")):
            acct = f"{4100_0000_0000 + n * 1_000_003 + (0 if env == 'prod' else 517):012d}"
            out.append(Account("AWS", acct, f"{slug}-{tag}", first_cc[bu], None, bu, env))
        out.append(Account("Microsoft", _guid("azure", bu), f"sub-{slug}", first_cc[bu], None, bu, None))
        if bu in ("BU03", "BU05"):
            out.append(Account("Google Cloud", f"{slug}-analytics-{stable_hex('gcp', bu, n=6)}",
                               f"{slug}-analytics", first_cc[bu], None, bu, None))
    shared = [
        ("SHR-NET", "CC035", "network-hub"), ("SHR-BKP", "CC036", "backup-vault"),
        ("SHR-SEC", "CC037", "security-tooling"), ("SHR-K8S", "CC038", "k8s-platform"),
    ]
    for app_id, cc, slug in shared:
        out.append(Account("AWS", f"{4190_0000_0000 + len(out) * 7919:012d}", slug, cc, app_id, "BU06", "prod"))
        out.append(Account("Microsoft", _guid("azure", slug), f"sub-{slug}", cc, app_id, "BU06", "prod"))
    out.append(Account("Google Cloud", f"k8s-platform-{stable_hex('gcp', 'k8s', n=6)}", "k8s-platform-gke",
                       "CC038", "SHR-K8S", "BU06", "prod"))
    # Technology's own (non-shared) workloads: service desk, architecture.
    out.append(Account("AWS", f"{4199_0000_0000 + 12345:012d}", "technology-internal", "CC039", None, "BU06", "prod"))
    return out


def _bcrypt_salt(username: str, rounds: int) -> bytes:
    # bcrypt's own base64 alphabet; a fixed salt per user keeps the store byte-identical across runs.
    raw = hashlib.sha256(f"apportion-demo|{username}".encode()).digest()[:16]
    std = base64.b64encode(raw).decode().rstrip("=")
    table = str.maketrans(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
    return f"$2b${rounds:02d}${std.translate(table)}".encode()


@functools.lru_cache(maxsize=64)
def password_hash(username: str, password: str, rounds: int = 12) -> str:
    """bcrypt hash with a salt derived from the username: deterministic demo data (the passwords are public
    anyway), still a real bcrypt hash that verifies; cached because each costs ~0.3 s."""
    return bcrypt.hashpw(password.encode(), _bcrypt_salt(username, rounds)).decode()
