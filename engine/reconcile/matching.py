"""Reconciliation: what is really out there (discovery) against what finance and the CMDB believe (records).

- `match_assets`: one-to-one matching of discovered assets (SCCM, Jamf, AWS Config) to records (ServiceNow,
  Snipe-IT, generic procurement lists) by serial, then asset tag, then cloud resource id (ARNs normalised by
  engine/ingest/contract/keys.py). Unmatched records in use are **ghosts** (paid for, not seen); unmatched discoveries
  are **orphans** (seen, not on the books); matched pairs that disagree on owner, cost centre or status are
  **mismatches**. Retired/disposed and in-stock records are expected to be invisible and are never ghosts.
- `cloud_coverage`: discovered cloud resources against the resource ids on the bill (same normalised keys).
- `licence_position`: per product, entitlements vs assignments vs active users (vs installs when known).
- `lifecycle_events`: two snapshots of the same inventory → new, reassigned, upgraded, decommissioned.

Every function takes and returns Polars frames so the page and tests need no store; the `*_store` wrappers read
the store. Matching runs in Python: inventories are thousands of rows, and one-to-one greedy matching in a defined
order is clearer there than in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import duckdb
import polars as pl

from engine.ingest import registry
from engine.ingest.contract.keys import resource_key, serial_key, tag_key
from engine.store.sql import frame

EXPECTED_INVISIBLE = ("retired", "disposed", "in_stock")

MATCH_SCHEMA: dict[str, pl.DataType] = {
    "record_asset_id": pl.String(), "discovered_asset_id": pl.String(), "matched_on": pl.String(),
    "key": pl.String(), "record_owner": pl.String(), "discovered_owner": pl.String(),
    "record_cost_center": pl.String(), "discovered_cost_center": pl.String(),
}
MISMATCH_SCHEMA: dict[str, pl.DataType] = {
    "record_asset_id": pl.String(), "discovered_asset_id": pl.String(), "field": pl.String(),
    "record_value": pl.String(), "discovered_value": pl.String(),
}
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String(), "asset_id": pl.String(), "event": pl.String(), "field": pl.String(),
    "before": pl.String(), "after": pl.String(),
}


@dataclass
class Reconciliation:
    matches: pl.DataFrame
    ghosts: pl.DataFrame
    orphans: pl.DataFrame
    mismatches: pl.DataFrame
    duplicates: int = 0     # discovered twice (e.g. by two agents); counted once

    def summary(self) -> dict[str, int]:
        return {"matched": self.matches.height, "ghosts": self.ghosts.height, "orphans": self.orphans.height,
                "mismatched_owner": self._count("owner"), "mismatched_cost_center": self._count("cost_center_id"),
                "mismatched_status": self._count("lifecycle_status"), "duplicates": self.duplicates}

    def _count(self, field: str) -> int:
        return self.mismatches.filter(pl.col("field") == field).height


def person_key(value: Any) -> str | None:
    """'CORP\\Alice', 'alice@contoso.com' and 'alice' are one person; display names compare lower-case."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    text = text.rsplit("\\", 1)[-1]
    return text.split("@", 1)[0] or None


def _text_key(value: Any) -> str | None:
    return str(value).strip().upper() or None if value is not None else None


def _keys(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(matched_on, key) in matching order; cloud ids also yield their resource key."""
    out: list[tuple[str, str]] = []
    serial = row.get("serial")
    if (k := serial_key(serial)) is not None:
        out.append(("serial", k))
    if (k := tag_key(row.get("asset_tag"))) is not None:
        out.append(("asset_tag", k))
    rid = resource_key(serial) if isinstance(serial, str) else None
    if rid and (rid.startswith(("i-", "arn:", "/subscriptions/")) or str(row.get("class", "")).startswith("cloud")):
        out.append(("resource_id", rid.upper()))
    return out


def match_assets(discovered: pl.DataFrame, records: pl.DataFrame) -> Reconciliation:
    """Each record looks for a discovered asset by serial, then tag, then resource id. A discovered device may
    answer several records (an alm_hardware asset and its cmdb_ci share a serial); a device discovered twice (two
    agents) counts once."""
    index: dict[tuple[str, str], dict[str, Any]] = {}
    duplicates = 0
    disc_rows: list[dict[str, Any]] = []
    for d in discovered.to_dicts():
        keys = _keys(d)
        if keys and (keys[0][0], keys[0][1]) in index and keys[0][0] == "serial":
            duplicates += 1
            continue
        disc_rows.append(d)
        for kind, key in keys:
            index.setdefault((kind, key), d)
    matched_disc: set[str] = set()
    matches: list[dict[str, Any]] = []
    mismatches: list[dict[str, Any]] = []
    ghosts: list[dict[str, Any]] = []
    for r in records.to_dicts():
        hit = next(((index[(k, v)], k, v) for k, v in _keys(r) if (k, v) in index), None)
        if hit is None:
            if (r.get("lifecycle_status") or "in_use") not in EXPECTED_INVISIBLE:
                ghosts.append(r)
            continue
        d, kind, key = hit
        matched_disc.add(d["asset_id"])
        matches.append({"record_asset_id": r["asset_id"], "discovered_asset_id": d["asset_id"], "matched_on": kind,
                        "key": key, "record_owner": r.get("owner"), "discovered_owner": d.get("owner"),
                        "record_cost_center": r.get("cost_center_id"),
                        "discovered_cost_center": d.get("cost_center_id")})
        mismatches.extend(_differences(r, d))
    orphans = [d for d in disc_rows if d["asset_id"] not in matched_disc
               and d.get("lifecycle_status") not in ("retired", "disposed")]
    return Reconciliation(
        matches=pl.DataFrame(matches, schema=MATCH_SCHEMA),
        ghosts=pl.DataFrame(ghosts, schema=records.schema) if ghosts else records.clear(),
        orphans=pl.DataFrame(orphans, schema=discovered.schema) if orphans else discovered.clear(),
        mismatches=pl.DataFrame(mismatches, schema=MISMATCH_SCHEMA),
        duplicates=duplicates,
    )


def _differences(r: dict[str, Any], d: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    checks = (("owner", person_key), ("cost_center_id", _text_key))
    for field, norm in checks:
        rv, dv = norm(r.get(field)), norm(d.get(field))
        if rv is not None and dv is not None and rv != dv:
            out.append({"record_asset_id": r["asset_id"], "discovered_asset_id": d["asset_id"], "field": field,
                        "record_value": str(r.get(field)), "discovered_value": str(d.get(field))})
    status = r.get("lifecycle_status")
    if status in ("retired", "disposed") and d.get("lifecycle_status") not in ("retired", "disposed"):
        out.append({"record_asset_id": r["asset_id"], "discovered_asset_id": d["asset_id"],
                    "field": "lifecycle_status", "record_value": status,
                    "discovered_value": d.get("lifecycle_status") or "in_use"})
    return out


def assets_by_source(con: duckdb.DuckDBPyConnection, sources: tuple[str, ...]) -> pl.DataFrame:
    marks = ", ".join("?" for _ in sources)
    return frame(con.sql(f"SELECT * FROM asset WHERE source IN ({marks}) ORDER BY source, asset_id",
                   params=list(sources)))


def reconcile_store(con: duckdb.DuckDBPyConnection, *, discovered_sources: tuple[str, ...] | None = None,
                    record_sources: tuple[str, ...] | None = None) -> Reconciliation:
    """Discovery against records; by default every connector that declares that inventory role."""
    disc = registry.with_role("discovery") if discovered_sources is None else discovered_sources
    rec = registry.with_role("record") if record_sources is None else record_sources
    return match_assets(assets_by_source(con, disc), assets_by_source(con, rec))


def cloud_coverage(discovered: pl.DataFrame, billed_resource_ids: list[str]) -> dict[str, pl.DataFrame]:
    """Cloud discovery vs the bill: `unbilled` (discovered, active, no bill line — often a tagging or account gap)
    and `undiscovered` (billed resource ids the inventory does not know)."""
    billed = {k.upper(): raw for raw in billed_resource_ids if (k := resource_key(raw))}
    cloud = discovered.filter(pl.col("class").str.starts_with("cloud"))
    seen: set[str] = set()
    unbilled: list[dict[str, Any]] = []
    for row in cloud.to_dicts():
        key = resource_key(row.get("serial"))
        ukey = key.upper() if key else None
        if ukey:
            seen.add(ukey)
        if (ukey is None or ukey not in billed) and row.get("lifecycle_status") not in ("retired", "disposed"):
            unbilled.append(row)
    undiscovered = sorted(raw for k, raw in billed.items() if k not in seen)
    return {"unbilled": pl.DataFrame(unbilled, schema=discovered.schema) if unbilled else discovered.clear(),
            "undiscovered": pl.DataFrame({"resource_id": undiscovered}, schema={"resource_id": pl.String()})}


def cloud_coverage_store(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, pl.DataFrame]:
    ids = [r[0] for r in con.sql("SELECT DISTINCT resource_id FROM cost_line WHERE billing_period = ? "
                                 "AND provider ILIKE 'AWS%' AND resource_id IS NOT NULL", params=[period]).fetchall()]
    return cloud_coverage(assets_by_source(con, ("aws_config",)), ids)


def licence_position(entitlements: pl.DataFrame, assignments: pl.DataFrame, installs: pl.DataFrame | None = None,
                     *, as_of: date, active_days: int = 90) -> pl.DataFrame:
    """One row per product: entitled, assigned, active (signed in within `active_days` of `as_of`), installed,
    shortfall (assigned beyond entitlement), unassigned, inactive seats, and the monthly cost of seats nobody
    actively uses ((entitled − active) × unit cost, never below zero)."""
    cutoff = as_of - timedelta(days=active_days)
    per_product = assignments.group_by("product").agg(
        pl.col("username").n_unique().alias("assigned"),
        pl.col("username").filter(pl.col("last_active") >= cutoff).n_unique().alias("active"),
    )
    ent = entitlements.select("product", pl.col("entitlements").cast(pl.Int64).alias("entitled"),
                              pl.col("unit_cost_month").cast(pl.Float64).alias("unit_cost_month"))
    out = ent.join(per_product, on="product", how="full", coalesce=True)
    if installs is not None and installs.height:
        inst = installs.group_by("product").agg(pl.col("installs").sum().cast(pl.Int64).alias("installed"))
        out = out.join(inst, on="product", how="full", coalesce=True)
    else:
        out = out.with_columns(pl.lit(None, dtype=pl.Int64).alias("installed"))
    out = out.with_columns(pl.col("entitled").fill_null(0), pl.col("assigned").fill_null(0).cast(pl.Int64),
                           pl.col("active").fill_null(0).cast(pl.Int64), pl.col("unit_cost_month").fill_null(0.0))
    return out.with_columns(
        (pl.col("assigned") - pl.col("entitled")).clip(lower_bound=0).alias("shortfall"),
        (pl.col("entitled") - pl.col("assigned")).clip(lower_bound=0).alias("unassigned"),
        (pl.col("assigned") - pl.col("active")).alias("inactive"),
        ((pl.col("entitled") - pl.col("active")).clip(lower_bound=0) * pl.col("unit_cost_month"))
        .round(2).alias("idle_cost_month"),
        pl.when(pl.col("assigned") > pl.col("entitled")).then(pl.lit("shortfall"))
        .when(pl.col("entitled") > pl.col("assigned")).then(pl.lit("surplus"))
        .otherwise(pl.lit("balanced")).alias("position"),
    ).select("product", "entitled", "assigned", "active", "installed", "shortfall", "unassigned", "inactive",
             "unit_cost_month", "idle_cost_month", "position").sort("product")


def licence_position_store(con: duckdb.DuckDBPyConnection, *, as_of: date, active_days: int = 90) -> pl.DataFrame:
    ent = con.sql("SELECT product, entitlements, unit_cost_month FROM licence_entitlement").pl()
    asg = con.sql("SELECT product, username, cost_center_id, last_active FROM licence_assignment").pl()
    return licence_position(ent, asg, as_of=as_of, active_days=active_days)


def _identity(row: dict[str, Any]) -> str:
    return serial_key(row.get("serial")) or tag_key(row.get("asset_tag")) or str(row.get("asset_id"))


def lifecycle_events(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """Events between two snapshots of an inventory, keyed by serial (else tag, else asset_id):
    new (appears), decommissioned (disappears, or turns retired/disposed), reassigned (owner or cost centre
    changes), upgraded (model or size changes — for cloud, the instance type)."""
    old = {_identity(r): r for r in before.to_dicts()}
    new = {_identity(r): r for r in after.to_dicts()}
    gone = ("retired", "disposed")
    events: list[dict[str, Any]] = []

    def ev(key: str, row: dict[str, Any], event: str, field: str | None, b: Any, a: Any) -> None:
        events.append({"key": key, "asset_id": row.get("asset_id"), "event": event, "field": field,
                       "before": None if b is None else str(b), "after": None if a is None else str(a)})

    for key, a in new.items():
        b = old.get(key)
        if b is None:
            ev(key, a, "new", None, None, a.get("model"))
            continue
        if a.get("lifecycle_status") in gone and b.get("lifecycle_status") not in gone:
            ev(key, a, "decommissioned", "lifecycle_status", b.get("lifecycle_status"), a.get("lifecycle_status"))
            continue
        for field, norm in (("owner", person_key), ("cost_center_id", _text_key)):
            if norm(b.get(field)) != norm(a.get(field)) and (b.get(field) or a.get(field)):
                ev(key, a, "reassigned", field, b.get(field), a.get(field))
        if _text_key(b.get("model")) != _text_key(a.get("model")) and b.get("model") and a.get("model"):
            ev(key, a, "upgraded", "model", b.get("model"), a.get("model"))
    for key, b in old.items():
        if key not in new and b.get("lifecycle_status") not in gone:
            ev(key, b, "decommissioned", None, b.get("lifecycle_status") or "in_use", None)
    return pl.DataFrame(events, schema=EVENT_SCHEMA).sort("event", "key")
