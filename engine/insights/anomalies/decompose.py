"""Why an allocated charge moved, exactly: the month-over-month change of a target's posted charge as additive parts
(usage, unit rate, driver values, master data, rule version), each the effect of swapping one month input.

The allocation is pure over its inputs (`cascade.run_cascade(rule set, PoolData)`), so the change from month m-1 to
month m is walked through six states, one input swapped at a time in this fixed order, every state re-evaluated by
the real cascade and posted in cents by the real posting (`posting.post`, the same controlled rounding as month
close):

    S0  everything of m-1                                  (= the posted run of m-1, when nothing changed since)
    S1  cost lines: m's quantities at m-1's unit prices      usage  = S1 − S0
    S2  cost lines of m                                     rate   = S2 − S1
    S3  driver values of m                                  drivers = S3 − S2
    S4  org (master data) of m                              master data = S4 − S3
    S5  rule set version (and run parameters) of m          rule   = S5 − S4   (= the posted run of m)

Each part is a difference of two posted charges in integer cents, so the parts telescope to S5 − S0 with no
rounding residue. The only residue is a restatement: the posted runs are the reference, and when a bill,
driver or org row changed after a run was posted, (posted m − S5) + (S0 − posted m-1) is shown as its own part
"restated since posting" (zero when the inputs are as they were posted). The parts then add up to the posted
change to the cent, always.

Usage against rate, per line key (provider, accounts, service, SKU, resource, unit, charge category) — the key is
built in SQL by `_REPRICED`: a key with consumed quantity in both months is repriced (each of m's lines at its
quantity × m-1's unit price of the key); a key new in m is usage (all of its cost), a key gone in m is usage (all of
its cost, negative); a key in both months without a quantity in one of them (fees, tax, credits) keeps m-1's cost
in S1, so its change is rate. Pools that are not cost lines (assets' depreciation, licences) and the exceptions in
force are read with the month's pool data, so their change is usage.

The org is a month input (`org_of(con, period)`): by default `current_org`, the org in force that month
(effective-dated master-data batches, engine/masterdata/), so a move of a cost centre or application between the
months shows as master data. Ownership that the pool query resolves in SQL (account owners, CMDB assets, which tags
name a real cost centre) is read as of each month's own pool data, so an account handed over counts as usage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from engine.access.users import User
from engine.allocation import overrides
from engine.allocation.backends.base import PoolRow
from engine.allocation.backends.duckdb_sql import DuckDBPoolSource
from engine.allocation.cascade import UNALLOCATED_KIND, CascadeError, run_cascade
from engine.allocation.pools import Basis, Org, PoolData, load_org, load_pools
from engine.allocation.posting import post
from engine.allocation.runs import resolve_rule_set
from engine.errors import AccessDenied, AllocationError, InputError, NotFound
from engine.insights.anomalies.monthly import add_months, month_start
from engine.insights.anomalies.why import Split
from engine.rules.model import RuleSet
from engine.store.sql import lit

PARTS: tuple[str, ...] = ("usage", "rate", "drivers", "master_data", "rule", "restated")
TITLES = {"usage": "usage", "rate": "unit rate", "drivers": "driver values", "master_data": "master data (org)",
          "rule": "rule version", "restated": "restated since posting"}
TARGET_KINDS = ("cost_center", "business_unit", "application")

OrgOf = Callable[[duckdb.DuckDBPyConnection, str], Org]


def current_org(con: duckdb.DuckDBPyConnection, period: str) -> Org:
    """The org in force in `period`: master-data batches effective later undone (engine/masterdata/as_of.py)."""
    return load_org(con, period)


def previous_period(period: str) -> str:
    return add_months(month_start(period), -1).strftime("%Y-%m")


@dataclass(frozen=True)
class PostedRun:
    period: str
    run_key: str
    rule_set: RuleSet           # the version the run used, with its parameters applied
    rule_name: str
    rule_version: int
    basis: Basis


@dataclass(frozen=True)
class Decomposition:
    target_kind: str
    target_id: str
    before: PostedRun
    after: PostedRun
    posted_before: int          # cents
    posted_after: int
    states: tuple[int, ...]     # S0..S5 in cents
    split: Split

    @property
    def parts(self) -> dict[str, int]:
        return self.split.parts


def posted_run(con: duckdb.DuckDBPyConnection, period: str, rule_set: str | None = None) -> PostedRun:
    """The latest posted run of `period` (of one rule set when given), with the rule set it ran with."""
    sql = ("SELECT run_key, rule_set, rule_version, basis, params FROM allocation_run WHERE period = ? "
           "AND status = 'posted'")
    params: list[Any] = [period]
    if rule_set is not None:
        sql += " AND rule_set = ?"
        params.append(rule_set)
    rows = con.execute(sql + " ORDER BY finished_at DESC, run_key LIMIT 1", params).fetchall()
    if not rows:
        raise NotFound(f"no posted allocation run for {period}" + (f" with {rule_set}" if rule_set else ""))
    key, name, version, basis, raw = rows[0]
    if not version:
        raise InputError(f"the run of {period} used an unversioned rule set file: its rules are not stored, so "
                         "its change cannot be decomposed")
    rs, _ = resolve_rule_set(con, name, period, int(version))
    return PostedRun(period, key, overrides.from_params(rs, json.loads(raw) if raw else None), name, int(version),
                     basis)


# -- the repriced month: m's lines at m-1's unit prices, as a pool source ---------------------------------------

_MARKER = "FROM cost_line l WHERE l.billing_period = ?"
_KEY = ("[provider, billing_account_id, sub_account_id, service_name, sku_id, resource_id, consumed_unit, "
        "charge_category]")


def _repriced(before: str, after: str) -> str:
    """m's cost lines (labelled `after`) with each priced key's lines at m-1's unit price; unpriced keys' m-1
    lines (relabelled) instead of m's; new keys as they are; vanished keys absent. Literals only (periods are
    validated YYYY-MM), so the pool query's parameters stay as they are."""
    b, a = lit(before), lit(after)

    def agg(col: str, period: str) -> str:
        return f"sum(CASE WHEN billing_period = {period} THEN {col} END) OVER w"

    def price(col: str) -> str:
        return (f"CASE WHEN _priced AND billing_period = {a} THEN CAST(coalesce(consumed_quantity, 0) "
                f"* (CAST(_{col}_b AS DOUBLE) / _q_b) AS DECIMAL(38, 10)) ELSE {col} END")

    return f"""(
        SELECT * EXCLUDE (_k, _n_b, _n_a, _q_b, _q_a, _effective_cost_b, _billed_cost_b, _priced, billing_period,
                          effective_cost, billed_cost),
               CAST({a} AS VARCHAR) AS billing_period,
               {price('effective_cost')} AS effective_cost, {price('billed_cost')} AS billed_cost
        FROM (
            SELECT *, coalesce(_q_b, 0) > 0 AND coalesce(_q_a, 0) > 0 AS _priced FROM (
                SELECT *, {agg('1', b)} AS _n_b, {agg('1', a)} AS _n_a,
                       {agg('consumed_quantity', b)} AS _q_b, {agg('consumed_quantity', a)} AS _q_a,
                       {agg('effective_cost', b)} AS _effective_cost_b, {agg('billed_cost', b)} AS _billed_cost_b
                FROM (SELECT *, {_KEY} AS _k FROM cost_line WHERE billing_period IN ({b}, {a}))
                WINDOW w AS (PARTITION BY _k)
            )
        )
        WHERE (billing_period = {a} AND (_priced OR _n_b IS NULL))
           OR (billing_period = {b} AND _n_a IS NOT NULL AND NOT _priced)
    )"""


class RepricedSource:
    """The store as a pool source, reading `after`'s cost lines at `before`'s unit prices (see `_repriced`)."""

    name = "repriced"

    def __init__(self, con: duckdb.DuckDBPyConnection, before: str, after: str) -> None:
        self.inner = DuckDBPoolSource(con)
        self.relation = _repriced(before, after)

    def pool_rows(self, sql: str, params: list[Any]) -> list[PoolRow]:
        if sql.count(_MARKER) != 1:   # pools.pool_query changed shape: fail loudly rather than misread
            raise AllocationError("the pool query no longer reads cost lines as the decomposition expects")
        return self.inner.pool_rows(sql.replace(_MARKER, f"FROM {self.relation} l WHERE l.billing_period = ?"),
                                    params)

    def cost_batches(self, period: str) -> tuple[str, ...]:
        return self.inner.cost_batches(period)


# -- charges ----------------------------------------------------------------------------------------------------

def _belongs(org: Org, kind: str, tid: str, target_kind: str, target_id: str) -> bool:
    if kind == UNALLOCATED_KIND:
        return False
    if target_kind == "cost_center":
        return org.cost_center_of(kind, tid) == target_id
    if target_kind == "business_unit":
        return org.business_unit_of(kind, tid) == target_id
    return kind == "application" and tid == target_id


def _charge(rs: RuleSet, data: PoolData, target_kind: str, target_id: str) -> int:
    """The target's posted charge in cents for these inputs: the real cascade and the real posting."""
    try:
        posted = post(run_cascade(rs, data), data.pool_totals)
    except (CascadeError, ValueError, ArithmeticError) as exc:
        raise AllocationError(f"the decomposition's {data.period} state could not be allocated: {exc}") from exc
    return sum(p.cents for p in posted if _belongs(data.org, p.key.target_kind, p.key.target_id, target_kind,
                                                   target_id))


def _posted_charge(con: duckdb.DuckDBPyConnection, run: PostedRun, org: Org, target_kind: str,
                   target_id: str) -> int:
    rows = con.execute("SELECT target_kind, target_id, CAST(sum(posted_amount) * 100 AS BIGINT) FROM "
                       "allocation_result WHERE run_key = ? GROUP BY 1, 2", [run.run_key]).fetchall()
    return sum(int(c) for k, t, c in rows if _belongs(org, k, t, target_kind, target_id))


def decompose(con: duckdb.DuckDBPyConnection, target_kind: str, target_id: str, period: str, *,
              rule_set: str | None = None, org_of: OrgOf = current_org) -> Decomposition:
    """Decompose the change of a target's posted charge from the month before `period` to `period` (see the module
    docstring). Both months need a posted run (of `rule_set` when given; the m-1 run of the rule set m used)."""
    if target_kind not in TARGET_KINDS:
        raise InputError(f"target kind must be one of {', '.join(TARGET_KINDS)}, not {target_kind!r}")
    before_period = previous_period(period)
    after = posted_run(con, period, rule_set)
    before = posted_run(con, before_period, after.rule_name)
    org0, org1 = org_of(con, before_period), org_of(con, period)
    rs0, rs1 = before.rule_set, after.rule_set

    p0 = replace(load_pools(con, rs0, before_period, before.basis), org=org0)
    p1 = replace(load_pools(con, rs0, period, before.basis, source=RepricedSource(con, before_period, period)),
                 drivers=p0.drivers, org=org0)
    p_after = load_pools(con, rs0, period, before.basis)
    p2 = replace(p_after, drivers=p0.drivers, org=org0)
    p3 = replace(p_after, org=org0)
    p4 = replace(p_after, org=org1)
    states = [_charge(rs0, p, target_kind, target_id) for p in (p0, p1, p2, p3, p4)]
    if rs1.body_hash() == rs0.body_hash() and after.basis == before.basis:
        states.append(states[-1])
    else:
        p5 = replace(load_pools(con, rs1, period, after.basis), org=org1)
        states.append(_charge(rs1, p5, target_kind, target_id))

    posted_before = _posted_charge(con, before, org0, target_kind, target_id)
    posted_after = _posted_charge(con, after, org1, target_kind, target_id)
    parts = {name: states[i + 1] - states[i] for i, name in enumerate(PARTS[:5])}
    parts["restated"] = (posted_after - states[5]) + (states[0] - posted_before)
    split = Split(posted_after - posted_before, parts, TITLES, before_period, period)
    return Decomposition(target_kind, target_id, before, after, posted_before, posted_after, tuple(states), split)


def for_anomaly(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str,
                org_of: OrgOf = current_org) -> Decomposition:
    """The decomposition behind an allocation-change flag (rule `allocation_change`), scoped like the flag."""
    from engine.insights.anomalies.allocation_change import RULE
    from engine.insights.anomalies.workflow import get_anomaly

    a = get_anomaly(con, user, anomaly_id)   # NotFound / AccessDenied outside the user's cost centres
    if a.rule != RULE:
        raise InputError(f"anomaly {anomaly_id} is not an allocated-charge change")
    if user is not None and user.cost_centers is not None and a.scope_id not in user.cost_centers:
        raise AccessDenied(f"{user.username} may not see cost centre {a.scope_id}")
    last = a.last_date
    return decompose(con, a.scope_kind, a.scope_id, f"{last.year:04d}-{last.month:02d}", org_of=org_of)

