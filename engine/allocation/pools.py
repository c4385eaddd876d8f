"""From cost lines to pools, in one set-based DuckDB query per run: every line is claimed by the first
exception or step whose filter matches it (never two), and direct steps resolve each line's owner through the
fallback chain in the same pass. What leaves this module is small: period × pool × link × target sums, plus the
driver quantities and the org hierarchy the methods need. Nothing here loops over lines in Python.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from functools import cached_property
from typing import Any, Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict

from engine.allocation.backends.base import PoolSource
from engine.allocation.backends.duckdb_sql import DuckDBPoolSource
from engine.errors import InputError
from engine.fiscal import calendar as fiscal_calendar
from engine.masterdata.as_of import changed_after, table_as_of
from engine.rules.filters import ASSET_FIELDS, LICENCE_FIELDS, compile_all, compile_one
from engine.rules.model import RuleSet, TargetKind
from engine.settings import get_settings

Basis = Literal["effective", "billed"]
UNMATCHED = "unmatched"
EXCEPTION_PREFIX = "exception:"
EXCEPTION_FIELDS = ("resource_id", "sub_account_id", "service_name", "billing_account_id", "sku_id")


class ExceptionTreatment(BaseModel):
    """The JSON in exception.treatment: a pooled resource shared by an explicit rule rather than the steps."""

    model_config = ConfigDict(extra="ignore")
    method: Literal["fixed", "even", "driver", "unallocated"]
    split: dict[str, Decimal] | None = None
    targets: list[str] | None = None
    driver: str | None = None
    target_kind: TargetKind = "cost_center"


@dataclass(frozen=True)
class PooledException:
    exception_id: str
    match_field: str
    match_value: str
    reason: str
    treatment: ExceptionTreatment

    @property
    def pool(self) -> str:
        return EXCEPTION_PREFIX + self.exception_id


@dataclass(frozen=True)
class Org:
    """Cost centres, business units and applications, for roll-ups and `even` targets."""

    kind: dict[str, str] = field(default_factory=dict)
    parent: dict[str, str | None] = field(default_factory=dict)
    app_cc: dict[str, str] = field(default_factory=dict)

    def members(self, kind: TargetKind) -> list[str]:
        if kind == "application":
            return sorted(self.app_cc)
        return sorted(u for u, k in self.kind.items() if k == kind)

    def cost_center_of(self, kind: str, target: str) -> str | None:
        if kind == "cost_center":
            return target
        if kind == "application":
            return self.app_cc.get(target)
        return None

    def business_unit_of(self, kind: str, target: str) -> str | None:
        unit = target if kind == "business_unit" else self.cost_center_of(kind, target)
        if unit is None:
            return None
        cache = self._bu_cache
        if unit not in cache:
            cache[unit] = self._walk_up(unit)
        return cache[unit]

    @cached_property
    def _bu_cache(self) -> dict[str, str | None]:
        return {}

    def _walk_up(self, unit: str | None) -> str | None:
        seen: set[str] = set()
        while unit is not None and unit not in seen:
            if self.kind.get(unit) == "business_unit":
                return unit
            seen.add(unit)
            unit = self.parent.get(unit)
        return None


@dataclass(frozen=True)
class PoolData:
    """Everything a cascade needs for one period; small enough to keep in memory for what-if."""

    period: str
    basis: Basis
    pool_totals: dict[str, Decimal]
    direct: dict[str, list[tuple[str | None, str | None, Decimal]]]
    drivers: dict[tuple[str, str], dict[str, Decimal]]
    exceptions: list[PooledException]
    org: Org
    cost_batches: tuple[str, ...]
    driver_batches: tuple[str, ...]
    input_lines: int
    fiscal_year_start_month: int = 1  # what the assets' depreciation was computed with (settings, resolved once)


def load_org(con: duckdb.DuckDBPyConnection, period: str | None = None) -> Org:
    """The org tree and applications' cost centres: as of `period` (master-data batches effective later undone),
    or the latest state for None."""
    units = con.sql(f"SELECT unit_id, kind, parent_id FROM {table_as_of('org_unit', period)} t").fetchall()
    apps = con.sql(f"SELECT app_id, cost_center_id FROM {table_as_of('application', period)} t").fetchall()
    return Org(kind={u: k for u, k, _ in units}, parent={u: p for u, _, p in units}, app_cc=dict(apps))


def load_exceptions(con: duckdb.DuckDBPyConnection, period: str) -> list[PooledException]:
    rows = con.sql(
        "SELECT exception_id, match_field, match_value, treatment::VARCHAR, reason FROM exception"
        " WHERE (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to >= ?)"
        " ORDER BY exception_id",
        params=[period, period],
    ).fetchall()
    out: list[PooledException] = []
    for eid, fld, val, treatment, reason in rows:
        if fld not in EXCEPTION_FIELDS:
            raise InputError(f"exception {eid}: match_field must be one of {EXCEPTION_FIELDS}, not {fld!r}")
        out.append(PooledException(eid, fld, val, reason, ExceptionTreatment.model_validate(json.loads(treatment))))
    return out


def _classify(rs: RuleSet, exceptions: list[PooledException]) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for ex in exceptions:
        cond, p = compile_one(ex.match_field, "eq", ex.match_value)
        parts.append(f"WHEN {cond} THEN ?")
        params += p + [ex.pool]
    for s in rs.steps:
        if s.source.kind != "cost_lines":
            continue
        cond, p = compile_all([(f.field, f.op, f.value) for f in s.source.filters])
        parts.append(f"WHEN {cond} THEN ?")
        params += p + [s.id]
    if not parts:
        return "?", [UNMATCHED]
    return "CASE " + " ".join(parts) + " ELSE ? END", params + [UNMATCHED]


_LINK_SQL: dict[tuple[str, str], str] = {
    ("cost_center", "tag"): "tcc.unit_id",
    ("cost_center", "application"): "tap.cost_center_id",
    ("cost_center", "account_owner"): "ao.cost_center_id",
    ("cost_center", "cmdb"): "coalesce(a1.cost_center_id, a2.cost_center_id)",
    ("application", "tag"): "tap.app_id",
    ("application", "application"): "tap.app_id",
    ("application", "account_owner"): "ao.app_id",
    ("application", "cmdb"): "coalesce(a1.app_id, a2.app_id)",
}


_LINK_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("cost_center", "tag"): ("tag_cost_center",),
    ("cost_center", "application"): ("tag_application",),
    ("cost_center", "account_owner"): ("provider", "sub_account_id"),
    ("cost_center", "cmdb"): ("resource_id",),
    ("application", "tag"): ("tag_application",),
    ("application", "application"): ("tag_application",),
    ("application", "account_owner"): ("provider", "sub_account_id"),
    ("application", "cmdb"): ("resource_id",),
}
def _joins(org_as_of: str | None) -> dict[str, str]:
    """The owner tables a direct step's fallback chain reads: as of a month (engine/masterdata/as_of.py), or the
    tables themselves (None) when no master-data batch took effect after the month."""
    period = org_as_of
    return {
        "tag_cost_center": " LEFT JOIN org_unit tcc ON tcc.unit_id = c.tag_cost_center AND tcc.kind = 'cost_center'",
        "tag_application": f" LEFT JOIN {table_as_of('application', period)} tap ON tap.app_id = c.tag_application",
        "sub_account_id": (
            f" LEFT JOIN {table_as_of('account_owner', period)} ao"
            " ON ao.provider = c.provider AND ao.sub_account_id = c.sub_account_id"
        ),
        "resource_id": (
            " LEFT JOIN asset a1 ON a1.asset_id = c.resource_id"
            " LEFT JOIN (SELECT serial, min(cost_center_id) AS cost_center_id, min(app_id) AS app_id FROM asset"
            "   WHERE serial IS NOT NULL GROUP BY serial) a2 ON a2.serial = c.resource_id AND a1.asset_id IS NULL"
        ),
    }


def pool_query(rs: RuleSet, exceptions: list[PooledException], period: str, basis: Basis,
               org_as_of: str | None = None, window: tuple[date, date] | None = None) -> tuple[str, list[Any]]:
    """The one query over cost_line: (pool, link, target, exact sum, line count, pool total) per group; the pool
    total is DuckDB's own DECIMAL sum, which the conservation check holds the posted cents to.

    Lines are first summed per pool and per the few columns the direct steps' fallback chains need (NULL for other
    pools), and only those sums are joined to the owner tables: the joins see thousands of rows, not millions."""
    amount = "l.effective_cost" if basis == "effective" else "l.billed_cost"
    # a week-based fiscal period (engine/fiscal/calendar.py) takes the lines charged in its dates
    where, where_params = (("l.billing_period = ?", [period]) if window is None else
                           ("l.charge_period_start >= ? AND l.charge_period_start < ?", list(window)))
    case_sql, case_params = _classify(rs, exceptions)
    direct = [s for s in rs.steps if s.method.kind == "direct" and s.source.kind == "cost_lines"]
    if not direct:
        sql = (f"SELECT {case_sql} AS pool, NULL AS link, NULL AS target, sum({amount}), count(*),"
               f" sum({amount}) FROM cost_line l WHERE {where} GROUP BY 1")
        return sql, case_params + where_params
    needed: list[str] = []
    for s in direct:
        for link in s.method.fallback:
            needed += [c for c in _LINK_COLUMNS[(s.target_kind, link)] if c not in needed]
    marks = ", ".join("?" for _ in direct)
    keep = ", ".join(f"CASE WHEN pool IN ({marks}) THEN {c} END AS {c}" for c in needed)
    keep_params = [s.id for s in direct] * len(needed)
    inner = (
        f"SELECT pool, {keep}, sum(amt) AS amt, count(*) AS n FROM ("
        f" SELECT {amount} AS amt, {case_sql} AS pool, {', '.join('l.' + c for c in needed)}"
        f" FROM cost_line l WHERE {where}) GROUP BY ALL"
    )
    link_cases: list[str] = []
    target_cases: list[str] = []
    link_params: list[Any] = []
    target_params: list[Any] = []
    for s in direct:
        exprs = [(link, _LINK_SQL[(s.target_kind, link)]) for link in s.method.fallback]
        link_cases.append("WHEN ? THEN CASE " + " ".join(f"WHEN {e} IS NOT NULL THEN ?" for _, e in exprs) + " END")
        link_params += [s.id] + [link for link, _ in exprs]
        target_cases.append("WHEN ? THEN coalesce(" + ", ".join(e for _, e in exprs) + ")")
        target_params.append(s.id)
    joins = "".join(j for col, j in _joins(org_as_of).items() if col in needed)
    sql = (
        "SELECT pool, link, target, sum(amt), sum(n), sum(sum(amt)) OVER (PARTITION BY pool) FROM ("
        f" SELECT c.amt, c.n, c.pool, CASE c.pool {' '.join(link_cases)} END AS link,"
        f" CASE c.pool {' '.join(target_cases)} END AS target"
        f" FROM ({inner}) c{joins}"
        ") GROUP BY pool, link, target"
    )
    return sql, link_params + target_params + keep_params + case_params + where_params


def load_drivers(con: duckdb.DuckDBPyConnection, period: str) -> tuple[dict[tuple[str, str], dict[str, Decimal]],
                                                                      tuple[str, ...]]:
    """Driver quantities per (driver, target kind) → target. Summed with math.fsum (correctly rounded, hence
    independent of row order) and then held as exact Decimals."""
    rows = con.sql(
        "SELECT driver, target_kind, target_id, quantity, batch_id FROM driver_value WHERE period = ?", params=[period]
    ).fetchall()
    acc: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    batches: set[str] = set()
    for driver, kind, target, qty, batch in rows:
        acc[(driver, kind)][target].append(float(qty))
        if batch is not None:
            batches.add(batch)
    drivers = {k: {t: Decimal(math.fsum(v)) for t, v in sorted(ts.items())} for k, ts in sorted(acc.items())}
    return drivers, tuple(sorted(batches))


DirectRows = dict[str, list[tuple[str | None, str | None, Decimal]]]


def _step_case(steps: list[Any], alias: str, fields: frozenset[str]) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for s in steps:
        cond, p = compile_all([(f.field, f.op, f.value) for f in s.source.filters], alias, fields)
        parts.append(f"WHEN {cond} THEN ?")
        params += p + [s.id]
    return "CASE " + " ".join(parts) + " END", params


def asset_pools(con: duckdb.DuckDBPyConnection, rs: RuleSet, period: str, *, fiscal_year_start_month: int
                ) -> tuple[dict[str, Decimal], DirectRows]:
    """The month's depreciation of capitalised assets (costmodels/depreciation.py), claimed by `assets` steps in order.
    Direct steps charge each asset to its CMDB owner (cost centre or application). Assets no step claims are
    outside this rule set's scope. The fiscal year start moves the half-year and mid-quarter conventions."""
    steps = [s for s in rs.steps if s.source.kind == "assets"]
    if not steps:
        return {}, {}
    from engine.costmodels.depreciation import depreciation_for_period

    dep = (depreciation_for_period(con, period, fiscal_year_start_month=fiscal_year_start_month)
           .group_by("asset_id").agg(pl.col("depreciation").sum()))
    case_sql, params = _step_case(steps, "a", ASSET_FIELDS)
    con.register("_apportion_dep", dep)
    try:
        rows = con.sql(
            "SELECT pool, cost_center_id, app_id, sum(amt), sum(sum(amt)) OVER (PARTITION BY pool) FROM ("
            f" SELECT {case_sql} AS pool, a.cost_center_id, a.app_id, CAST(d.depreciation AS DECIMAL(38, 10)) AS amt"
            " FROM _apportion_dep d JOIN asset a ON a.asset_id = d.asset_id) WHERE pool IS NOT NULL"
            " GROUP BY pool, cost_center_id, app_id",
            params=params,
        ).fetchall()
    finally:
        con.unregister("_apportion_dep")
    kinds = {s.id: s.target_kind for s in steps if s.method.kind == "direct"}
    totals: dict[str, Decimal] = {}
    direct: DirectRows = defaultdict(list)
    for pool, cc, app, amount, total in rows:
        totals[pool] = Decimal(total)
        if pool in kinds:
            target = cc if kinds[pool] == "cost_center" else app
            direct[pool].append(("cmdb" if target else None, target, Decimal(amount)))
    return totals, dict(direct)


def licence_pools(con: duckdb.DuckDBPyConnection, rs: RuleSet, period: str) -> tuple[dict[str, Decimal], DirectRows]:
    """Licence entitlements (seats × monthly unit cost) claimed by `licences` steps. Direct steps charge each seat
    holder's cost centre; idle seats (entitled, not assigned) are the step's unallocated part; an over-assigned
    product is shared over the seats actually assigned."""
    steps = [s for s in rs.steps if s.source.kind == "licences"]
    if not steps:
        return {}, {}
    case_sql, params = _step_case(steps, "e", LICENCE_FIELDS)
    products = con.sql(
        f"SELECT {case_sql} AS pool, e.product, e.entitlements,"
        " CAST(e.entitlements AS DECIMAL(38, 10)) * e.unit_cost_month FROM licence_entitlement e ORDER BY e.product",
        params=params,
    ).fetchall()
    seats: dict[str, list[tuple[str | None, int]]] = defaultdict(list)
    for product, cc, n in con.sql(
        "SELECT product, cost_center_id, count(*) FROM licence_assignment WHERE assigned_on IS NULL"
        " OR assigned_on <= last_day(CAST(? || '-01' AS DATE)) GROUP BY ALL ORDER BY ALL", params=[period]
    ).fetchall():
        seats[product].append((cc, int(n)))
    direct_ids = {s.id for s in steps if s.method.kind == "direct"}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    direct: DirectRows = defaultdict(list)
    with localcontext() as ctx:
        ctx.prec = 40
        for pool, product, entitled, total in products:
            if pool is None:
                continue
            total = Decimal(total)
            totals[pool] += total
            if pool not in direct_ids:
                continue
            held = seats.get(product, [])
            base = max(sum(n for _, n in held), int(entitled))
            charged = Decimal(0)
            for cc, n in held:
                if cc is not None and base:
                    part = total * n / base
                    direct[pool].append(("seat", cc, part))
                    charged += part
            if total - charged:
                direct[pool].append((None, None, total - charged))
    return dict(totals), dict(direct)


def load_pools(con: duckdb.DuckDBPyConnection, rs: RuleSet, period: str, basis: Basis = "effective", *,
               fiscal_year_start_month: int | None = None, source: PoolSource | None = None) -> PoolData:
    """One period's pools. `fiscal_year_start_month` defaults to the `fiscal_year_start_month` setting, read here
    once, so that month close and what-if (both load pools through here) depreciate on the same fiscal year.
    `source` runs the cost-line aggregation (backends/: the store itself by default); assets, licences, drivers,
    exceptions and the org are small master data and always come from the store."""
    if fiscal_year_start_month is None:
        fiscal_year_start_month = get_settings().fiscal_year_start_month
    exceptions = load_exceptions(con, period)
    cal = fiscal_calendar.FiscalCalendar(fiscal_year_start_month, get_settings().fiscal_period_scheme)
    window = None if cal.is_calendar else cal.window(period)
    # owners as of the month only when a later master-data batch changed them: otherwise the query reads the owner
    # tables as they are (and a pool source elsewhere needs no master-data history)
    sql, params = pool_query(rs, exceptions, period, basis, period if changed_after(con, period) else None, window)
    totals: dict[str, Decimal] = {}
    direct: dict[str, list[tuple[str | None, str | None, Decimal]]] = defaultdict(list)
    direct_ids = {s.id for s in rs.steps if s.method.kind == "direct"}
    lines = 0
    source = source or DuckDBPoolSource(con)
    for row in source.pool_rows(sql, params):
        totals[row.pool] = row.pool_total
        lines += row.lines
        if row.pool in direct_ids:
            direct[row.pool].append((row.link, row.target, row.amount))
    for extra_totals, extra_direct in (asset_pools(con, rs, period, fiscal_year_start_month=fiscal_year_start_month),
                                       licence_pools(con, rs, period)):
        totals.update(extra_totals)
        for pool, rows in extra_direct.items():
            merged: dict[tuple[str | None, str | None], Decimal] = defaultdict(Decimal)
            for link, target, amt in rows:
                merged[(link, target)] += amt
            direct[pool] = [(k[0], k[1], v) for k, v in merged.items()]
    for rows in direct.values():
        rows.sort(key=lambda r: (r[0] or "~", r[1] or "~"))
    drivers, driver_batches = load_drivers(con, period)
    batches = source.cost_batches(period)
    return PoolData(
        period=period, basis=basis, pool_totals=dict(sorted(totals.items())), direct=dict(direct), drivers=drivers,
        exceptions=exceptions, org=load_org(con, period), cost_batches=batches, driver_batches=driver_batches,
        input_lines=lines, fiscal_year_start_month=fiscal_year_start_month,
    )
