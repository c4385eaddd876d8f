"""The Scope and basis page's read model: every cost pool and asset class of a month with its spend, share of the
total (materiality), flags, owner and basis, the method the month close will use, and the granularity check."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

from engine.allocation.pools import PoolData, load_pools
from engine.fiscal import calendar as fiscal_calendar
from engine.rules import versions as rule_versions
from engine.rules.model import RuleSet, Step
from engine.scope import granularity, transform, versions
from engine.scope.model import CENTRAL_IT, Scope
from engine.settings import get_settings

MONEY = pl.Decimal(18, 2)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ScopeView:
    period: str
    fiscal_id: str
    rule_set: str
    rule_version: int
    scope_version: int | None
    scope: Scope
    approved: RuleSet
    scoped: RuleSet
    pools: pl.DataFrame
    asset_classes: pl.DataFrame
    coverage: pl.DataFrame
    total: Decimal


def describe(step: Step) -> str:
    """A step's method in a few words: 'driver cpu_hours → application', 'weighted headcount 60 %, revenue 40 %'."""
    m = step.method
    if m.kind == "driver":
        return f"driver {m.driver} → {step.target_kind}"
    if m.kind == "weighted":
        w = m.weights or {}
        total = sum(w.values()) or 1.0
        return "weighted " + ", ".join(f"{d} {100 * w[d] / total:.0f} %" for d in sorted(w)) + f" → {step.target_kind}"
    if m.kind == "fixed":
        return "fixed split " + ", ".join(f"{t} {v:g} %" for t, v in sorted((m.split or {}).items()))
    if m.kind == "direct":
        return "direct (" + " → ".join(m.fallback) + f") → {step.target_kind}"
    if m.kind == "allocated":
        return f"{m.driver_label} → {step.target_kind}"
    return f"{m.kind} → {step.target_kind}"


def owners(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Who can own a pool: central IT, or a business unit (id, name)."""
    bus = con.execute("SELECT unit_id, name FROM org_unit WHERE kind = 'business_unit' ORDER BY unit_id").fetchall()
    return [(CENTRAL_IT, "Central IT"), *((str(u), str(n)) for u, n in bus)]


def drivers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every driver ever loaded: what the overhead pool can be shared by."""
    return [str(r[0]) for r in con.execute("SELECT DISTINCT driver FROM driver_value ORDER BY 1").fetchall()]


def asset_classes(con: duckdb.DuckDBPyConnection, rs: RuleSet, period: str, scope: Scope) -> pl.DataFrame:
    """Monthly spend per asset class (capitalised assets' depreciation; licences: entitled seats × unit cost) and
    whether the rule set models it (a step with an `assets` or `licences` source)."""
    from engine.costmodels.depreciation import depreciation_for_period

    dep = depreciation_for_period(con, period, fiscal_year_start_month=get_settings().fiscal_year_start_month)
    con.register("_scope_dep", dep.group_by("asset_id").agg(pl.col("depreciation").sum()))
    try:
        rows = con.execute(
            "SELECT a.class, count(DISTINCT a.asset_id), sum(CAST(d.depreciation AS DECIMAL(38, 10)))"
            " FROM _scope_dep d JOIN asset a USING (asset_id) GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.unregister("_scope_dep")
    lic = con.execute("SELECT count(*), sum(CAST(entitlements AS DECIMAL(38, 10)) * unit_cost_month)"
                      " FROM licence_entitlement").fetchall()[0]
    modelled = {s.source.kind for s in rs.steps}
    items = [(str(c), int(n), Decimal(v or 0), "assets" in modelled) for c, n, v in rows]
    if lic[0]:
        items.append(("licence", int(lic[0]), Decimal(lic[1] or 0), "licences" in modelled))
    return pl.DataFrame(
        {"asset_class": [i[0] for i in items], "items": [i[1] for i in items],
         "spend": [i[2].quantize(CENT) for i in items], "in_rule_set": [i[3] for i in items],
         "critical": [i[0] in scope.critical_classes for i in items]},
        schema={"asset_class": pl.String, "items": pl.Int64, "spend": MONEY, "in_rule_set": pl.Boolean,
                "critical": pl.Boolean})


def build(con: duckdb.DuckDBPyConnection, period: str, rule_set: str, data: PoolData | None = None) -> ScopeView:
    """The month's pools under the scope in force, for the approved rule set version in force."""
    rv = rule_versions.as_of(con, rule_set, period)
    rs = rv.rule_set
    data = data or load_pools(con, rs, period)
    sv = versions.as_of(con, rule_set, period)
    scope = sv.scope if sv else Scope()
    scoped = transform.apply(rs, scope, data)
    shares = {s.step_id: s for s in transform.shares(rs, scope, data)}
    classes = asset_classes(con, rs, period, scope)
    total = sum((abs(v) for v in data.pool_totals.values()), Decimal(0))
    # asset classes the rule set does not model are spend beside the bill: their share is of both together
    it_total = total + sum(classes.filter(~pl.col("in_rule_set"))["spend"].to_list(), Decimal(0))
    classes = classes.with_columns(share_pct=(pl.col("spend").cast(pl.Float64) * 100 / float(it_total or 1)).round(2))
    rows = []
    for step in rs.steps:
        p = scope.pool(step.id)
        sh = shares.get(step.id)
        rows.append({
            "pool": step.id, "name": step.name,
            "spend": (sh.spend if sh else Decimal(0)).quantize(CENT),
            "share_pct": float(sh.share_pct.quantize(Decimal("0.01"))) if sh else None,
            "critical": p.critical, "in_model": p.in_model, "owner": p.owner, "basis": p.basis,
            "rules_method": describe(step), "close_method": describe(scoped.step(step.id)),
            "to_overhead": bool(sh and sh.to_overhead), "reason": sh.reason if sh else "fed by other pools",
        })
    pools = pl.DataFrame(rows, schema={
        "pool": pl.String, "name": pl.String, "spend": MONEY, "share_pct": pl.Float64, "critical": pl.Boolean,
        "in_model": pl.Boolean, "owner": pl.String, "basis": pl.String, "rules_method": pl.String,
        "close_method": pl.String, "to_overhead": pl.Boolean, "reason": pl.String})
    cov = granularity.check(con, scoped, scope, data)
    coverage = pl.DataFrame(
        [{"pool": c.step_id, "name": c.name, "granularity": c.granularity, "metered_by": c.metered_by,
          "coverage_pct": float(c.coverage_pct) if c.coverage_pct is not None else None,
          "threshold_pct": float(c.threshold_pct), "flagged": c.flagged, "message": c.message} for c in cov],
        schema={"pool": pl.String, "name": pl.String, "granularity": pl.String, "metered_by": pl.String,
                "coverage_pct": pl.Float64, "threshold_pct": pl.Float64, "flagged": pl.Boolean,
                "message": pl.String})
    start = get_settings().fiscal_year_start_month
    return ScopeView(period, fiscal_calendar.fiscal_id(period, start), rule_set, rv.version,
                     sv.version if sv else None, scope, rs, scoped, pools, classes, coverage, total)
