"""What the reconciliation page reads: asset matching, register checks, cloud coverage, licences and data quality.

A thin layer over `reconcile.matching` and `reconcile.dq_rules` that turns their results into the lists a FinOps lead
drills into. Two checks live here because they need no second inventory: **duplicate serials** (one register
holding one device twice under different asset tags or models) and **retired but still assigned** (a retired or
disposed asset that still names an owner: the seat, the licence or the charge usually follows the owner).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl
from pydantic import ValidationError

from engine.errors import invalid
from engine.frames import py_column
from engine.ingest import registry
from engine.ingest.contract.keys import resource_key, serial_key, tag_key
from engine.reconcile import dq_rules
from engine.reconcile import matching as reconcile
from engine.reconcile.dq_rules import AttributeRule, DqConfig, Scope
from engine.store.sql import frame

ASSET_COLUMNS = ("asset_id", "source", "asset_tag", "serial", "class", "model", "owner", "cost_center_id", "app_id",
                 "location", "environment", "lifecycle_status")

# list key -> label, in the order the page shows them
ASSET_LISTS: dict[str, str] = {
    "matched": "Matched",
    "ghosts": "Ghosts (in records, not discovered)",
    "orphans": "Orphans (discovered, not in records)",
    "owner": "Owner mismatches",
    "cost_center": "Cost-centre mismatches",
    "status": "Retired in records, still discovered",
    "duplicates": "Duplicate serials",
    "retired_assigned": "Retired, still assigned",
}
MATCHING_LISTS = ("matched", "ghosts", "orphans", "owner", "cost_center", "status")
GONE = ("retired", "disposed")


@dataclass
class AssetReview:
    lists: dict[str, pl.DataFrame]
    matching: bool                  # a discovery and a record side were both present
    discovered_twice: int = 0       # devices seen by two discovery agents (counted once by the matcher)
    sources: list[str] = field(default_factory=list)

    def count(self, key: str) -> int | None:
        """None for matching lists when there was nothing to match (the page shows a dash, not a zero)."""
        if key in MATCHING_LISTS and not self.matching:
            return None
        return self.lists[key].height


def sources(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT DISTINCT source FROM asset WHERE source IS NOT NULL ORDER BY 1").fetchall()]


def default_sides(present: list[str]) -> tuple[list[str], list[str]]:
    """The discovery and record sources (as their connectors declare them) that are actually loaded."""
    return ([s for s in registry.with_role("discovery") if s in present],
            [s for s in registry.with_role("record") if s in present])


def as_of_default(con: duckdb.DuckDBPyConnection) -> date:
    """The last day of the latest billing period (what month close looks at), else today."""
    row = con.sql("SELECT max(billing_period) FROM cost_line").fetchall()[0][0]
    if not row:
        return date.today()
    year, month = (int(x) for x in str(row).split("-")[:2])
    first_next = date(year + month // 12, month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _assets(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return frame(con.sql(f"SELECT {', '.join(ASSET_COLUMNS)} FROM asset ORDER BY source, asset_id"))


def duplicate_serials(assets: pl.DataFrame) -> pl.DataFrame:
    """Assets of one source sharing a serial while their asset tags or models differ: two records, one device.
    (A ServiceNow alm_hardware asset and its cmdb_ci share serial and tag: one device, not a duplicate.)"""
    if assets.is_empty():
        return assets.select(pl.lit(None, pl.String).alias("serial_key"), *ASSET_COLUMNS).clear()
    keyed = assets.with_columns(
        py_column(assets, "serial_key", serial_key, "serial", dtype=pl.String()),
        py_column(assets, "_tag", tag_key, "asset_tag", dtype=pl.String()),
        pl.col("model").str.strip_chars().str.to_uppercase().alias("_model"),
    ).filter(pl.col("serial_key").is_not_null())
    groups = keyed.group_by("source", "serial_key").agg(
        pl.len().alias("n"), pl.col("_tag").drop_nulls().n_unique().alias("tags"),
        pl.col("_model").drop_nulls().n_unique().alias("models"),
    ).filter((pl.col("n") > 1) & ((pl.col("tags") > 1) | (pl.col("models") > 1)))
    return (keyed.join(groups.select("source", "serial_key"), on=["source", "serial_key"])
            .select("serial_key", *ASSET_COLUMNS).sort("serial_key", "asset_id"))


def retired_still_assigned(assets: pl.DataFrame) -> pl.DataFrame:
    owner = pl.col("owner").cast(pl.String).str.strip_chars()
    return assets.filter(pl.col("lifecycle_status").is_in(GONE) & owner.is_not_null() & (owner != ""))


def review(con: duckdb.DuckDBPyConnection, discovered_sources: tuple[str, ...],
           record_sources: tuple[str, ...]) -> AssetReview:
    assets = _assets(con)
    lists: dict[str, pl.DataFrame] = {
        "duplicates": duplicate_serials(assets),
        "retired_assigned": retired_still_assigned(assets),
    }
    matching = bool(discovered_sources) and bool(record_sources)
    discovered_twice = 0
    empty_assets = assets.clear()
    if matching:
        rec = reconcile.reconcile_store(con, discovered_sources=discovered_sources, record_sources=record_sources)
        matching = not (rec.matches.is_empty() and rec.ghosts.is_empty() and rec.orphans.is_empty())
        cols = list(ASSET_COLUMNS)
        lists["matched"] = rec.matches
        lists["ghosts"] = rec.ghosts.select(cols)
        lists["orphans"] = rec.orphans.select(cols)
        for key, fld in (("owner", "owner"), ("cost_center", "cost_center_id"), ("status", "lifecycle_status")):
            lists[key] = rec.mismatches.filter(pl.col("field") == fld)
        discovered_twice = rec.duplicates
    else:
        lists["matched"] = pl.DataFrame(schema=reconcile.MATCH_SCHEMA)
        lists["ghosts"] = lists["orphans"] = empty_assets
        for key in ("owner", "cost_center", "status"):
            lists[key] = pl.DataFrame(schema=reconcile.MISMATCH_SCHEMA)
    return AssetReview(lists={k: lists[k] for k in ASSET_LISTS}, matching=matching,
                       discovered_twice=discovered_twice, sources=sources(con))


# --- data quality -------------------------------------------------------------------------------------------------

def dq_config() -> DqConfig:
    """The engine defaults plus one rule allocation depends on: a server in use names the application it serves
    (without it, its depreciation cannot follow the application)."""
    cfg = dq_rules.default_config()
    cfg.attribute_rules.append(AttributeRule(
        name="server serves an application", kind="required", column="app_id",
        scope=Scope(classes=["server"], lifecycle=["in_use"]), message="server in use without an application"))
    return cfg


def parse_dq_config(text: str) -> DqConfig:
    """Raises InputError naming each offending field when the edited rules are not valid."""
    try:
        return DqConfig.model_validate_json(text)
    except ValidationError as exc:
        raise invalid("Data-quality rules", exc) from exc


def dq_violations(con: duckdb.DuckDBPyConnection, config: DqConfig, as_of: date) -> pl.DataFrame:
    """The register's quality: the record sources when any is loaded (discovery inventories carry no cost centre,
    application or environment by nature, so the register's rules would flag every device they report), else
    every asset."""
    _, records = default_sides(sources(con))
    return dq_rules.evaluate_store(con, config, as_of=as_of, sources=tuple(records) or None)


def dq_summary(violations: pl.DataFrame) -> pl.DataFrame:
    return dq_rules.summary(violations)


def dq_rule(violations: pl.DataFrame, rule: str) -> pl.DataFrame:
    return violations.filter(pl.col("rule") == rule)


# --- licences -----------------------------------------------------------------------------------------------------

def licence_position(con: duckdb.DuckDBPyConnection, as_of: date, active_days: int = 90) -> pl.DataFrame:
    return reconcile.licence_position_store(con, as_of=as_of, active_days=active_days)


def licence_chart_frame(position: pl.DataFrame) -> pl.DataFrame:
    """Long form (product, measure, seats) for a grouped bar chart: a dozen products × three measures."""
    return (position.select("product", "entitled", "assigned", "active")
            .unpivot(index="product", variable_name="measure", value_name="seats"))


# --- cloud coverage -----------------------------------------------------------------------------------------------

@dataclass
class CloudCoverage:
    inventory: int                  # active cloud resources in AWS Config
    billed: int                     # distinct billed AWS resources (normalised ids)
    matched: int
    unbilled: pl.DataFrame          # discovered, active, no bill line in the period
    undiscovered: pl.DataFrame      # billed, unknown to the inventory; with its effective cost
    billed_cost: Decimal            # exact sums: a float difference of two sums could show "-0.0%"
    undiscovered_cost: Decimal

    @property
    def covered_pct(self) -> float:
        """Share of resource-level AWS cost whose resource the inventory knows."""
        if not self.billed_cost:
            return 0.0
        return float(100 * (self.billed_cost - self.undiscovered_cost) / self.billed_cost)


def aws_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT DISTINCT billing_period FROM cost_line WHERE provider ILIKE 'AWS%' "
                                  "ORDER BY 1").fetchall()]


def cloud_inventory_size(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.sql("SELECT count(*) FROM asset WHERE source = 'aws_config'").fetchall()[0][0])


def cloud_coverage(con: duckdb.DuckDBPyConnection, period: str) -> CloudCoverage:
    cov = reconcile.cloud_coverage_store(con, period)
    costs = con.sql("SELECT resource_id, sum(effective_cost) AS cost FROM cost_line WHERE billing_period = ? "
                    "AND provider ILIKE 'AWS%' AND resource_id IS NOT NULL GROUP BY 1", params=[period]).fetchall()
    per_key: dict[str, Decimal] = {}
    for rid, cost in costs:
        k = resource_key(rid)
        if k:
            per_key[k.upper()] = per_key.get(k.upper(), Decimal(0)) + Decimal(cost or 0)
    discovered = reconcile.assets_by_source(con, ("aws_config",))
    active = discovered.filter(pl.col("class").str.starts_with("cloud")
                               & ~pl.col("lifecycle_status").fill_null("in_use").is_in(GONE))
    undiscovered = cov["undiscovered"].with_columns(
        py_column(cov["undiscovered"], "effective_cost",
                  lambda r: float(per_key.get((resource_key(r) or "").upper(), 0)), "resource_id", dtype=pl.Float64())
    ).sort("effective_cost", descending=True)
    unbilled = cov["unbilled"].select([c for c in ASSET_COLUMNS if c in cov["unbilled"].columns])
    return CloudCoverage(
        inventory=active.height, billed=len(per_key), matched=len(per_key) - undiscovered.height,
        unbilled=unbilled, undiscovered=undiscovered, billed_cost=sum(per_key.values(), Decimal(0)),
        undiscovered_cost=sum((per_key.get((resource_key(r) or "").upper(), Decimal(0))
                               for r in undiscovered["resource_id"].to_list()), Decimal(0)))
