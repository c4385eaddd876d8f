"""Cost avoidance: optimisation actions (rightsizing, decommissioning, licence harvesting, commitment purchases)
with a before and after monthly run-rate; the difference is avoided every month from `effective_from` on, per team.

For a decommissioned asset both figures are derived: before = the asset's remaining monthly depreciation (its
schedule's charge for the first month without it; 0 once fully depreciated) + its resources' last run-rate (the
effective cost of the cost lines whose resource id is the asset id or serial, in the latest billed month before
`effective_from`); after = 0. Avoided cost is never mixed with cost the allocation merely moved between teams:
`moved_between_teams` reports that apart.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

from engine.access import policy
from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.costmodels import depreciation
from engine.errors import InputError, NotFound
from engine.improvement.kpis import LATEST_RUNS
from engine.insights.anomalies.monthly import add_months, month_start
from engine.masterdata.as_of import check_period
from engine.store import audit, transaction
from engine.store.sql import query

KINDS = ("rightsizing", "decommissioning", "licence_harvesting", "commitment_purchase")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Derived:
    asset_id: str
    cost_center_id: str
    depreciation: Decimal     # remaining monthly depreciation
    run_rate: Decimal         # resources' last monthly run-rate
    run_rate_period: str | None

    @property
    def before(self) -> Decimal:
        return self.depreciation + self.run_rate


def _prev(period: str) -> str:
    d = add_months(month_start(period), -1)
    return f"{d.year:04d}-{d.month:02d}"


def derive_decommission(con: duckdb.DuckDBPyConnection, asset_id: str, effective_from: str, *,
                        fiscal_year_start_month: int = 1) -> Derived:
    check_period(effective_from)
    row = con.execute("SELECT cost_center_id, serial FROM asset WHERE asset_id = ?", [asset_id]).fetchall()
    if not row:
        raise NotFound(f"no asset {asset_id!r}")
    cc, serial = row[0]
    items, _ = depreciation.register_from_store(con)
    dep = Decimal("0.00")
    for item in items:
        if item.asset.asset_id == asset_id:
            sched = depreciation.schedule(item.asset, fiscal_year_start_month=fiscal_year_start_month,
                                          first_period=effective_from, last_period=effective_from)
            dep = sum((Decimal(v) for v in sched["depreciation"].to_list()), Decimal("0.00"))
    ids = [asset_id] + ([serial] if serial else [])
    last = con.execute("SELECT max(billing_period) FROM cost_line WHERE resource_id IN (SELECT unnest(?::VARCHAR[]))"
                       " AND billing_period < ?", [ids, effective_from]).fetchall()[0][0]
    rate = Decimal("0.00")
    if last is not None:
        total = con.execute("SELECT coalesce(sum(effective_cost), 0) FROM cost_line WHERE billing_period = ?"
                            " AND resource_id IN (SELECT unnest(?::VARCHAR[]))", [last, ids]).fetchall()[0][0]
        rate = Decimal(total).quantize(CENT)
    if cc is None:
        raise InputError(f"asset {asset_id} has no cost centre to credit the avoided cost to")
    return Derived(asset_id, str(cc), dep.quantize(CENT), rate, last)


def record(con: duckdb.DuckDBPyConnection, user: User, kind: str, title: str, cost_center_id: str,
           effective_from: str, before: Decimal | str, after: Decimal | str, *, asset_id: str | None = None,
           derivation: dict[str, str | None] | None = None) -> str:
    policy.require(user, "lead_improvement", "record an optimisation action")
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}")
    check_period(effective_from)
    b, a = Decimal(str(before)).quantize(CENT), Decimal(str(after)).quantize(CENT)
    if b < 0 or a < 0:
        raise InputError("run-rates are not negative")
    if not title.strip():
        raise InputError("an action needs a title")
    aid = uuid.uuid4().hex[:12]
    with transaction(con):
        con.execute("INSERT INTO avoidance_action VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [aid, kind, title.strip(), cost_center_id, asset_id, effective_from, b, a,
                     json.dumps(derivation) if derivation else None, user.username, audit.now()])
        audit.record(con, user.username, "avoidance.record", "avoidance_action", aid, {
            "kind": kind, "cost_center_id": cost_center_id, "before": str(b), "after": str(a),
            "effective_from": effective_from, "asset_id": asset_id})
    return aid


def record_decommission(con: duckdb.DuckDBPyConnection, user: User, asset_id: str, effective_from: str,
                        title: str = "") -> str:
    d = derive_decommission(con, asset_id, effective_from)
    return record(con, user, "decommissioning", title or f"Decommission {asset_id}", d.cost_center_id,
                  effective_from, d.before, "0", asset_id=asset_id,
                  derivation={"depreciation": str(d.depreciation), "run_rate": str(d.run_rate),
                              "run_rate_period": d.run_rate_period})


def avoided(con: duckdb.DuckDBPyConnection, user: User | None, through: str) -> pl.DataFrame:
    """Avoided cost per month and team (cost centre, business unit, kind) from each action's first month through
    `through`: before − after each month."""
    pred, params = cost_center_filter(user, "a.cost_center_id")
    return query(con, f"""
        WITH m AS (SELECT strftime(d, '%Y-%m') AS period FROM range(
                       CAST((SELECT coalesce(min(effective_from), ?) FROM avoidance_action) || '-01' AS TIMESTAMP),
                       CAST(? || '-01' AS TIMESTAMP), INTERVAL 1 MONTH) t(d)
                   UNION SELECT ?)
        SELECT m.period, a.cost_center_id, o.parent_id AS business_unit_id, a.kind,
               sum(a.before_monthly - a.after_monthly)::DECIMAL(18, 2) AS avoided
        FROM avoidance_action a JOIN m ON m.period >= a.effective_from
        LEFT JOIN org_unit o ON o.unit_id = a.cost_center_id
        WHERE m.period <= ? AND {pred} GROUP BY ALL ORDER BY 1, 2, 4""", [through, through, through, through, *params])


def moved_between_teams(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, Decimal]:
    """What the allocation moved between teams from last month's run to this one's: increases, decreases, the net
    change of the bill and `moved` = min(decreases, increases). A team's lower charge is not avoided cost."""
    prev = _prev(period)
    rows = con.execute(f"""
        WITH l AS ({LATEST_RUNS}),
        c AS (SELECT l.period, r.target_id, sum(r.posted_amount) AS amt FROM allocation_result r
              JOIN l ON l.run_key = r.run_key WHERE l.period IN (?, ?) GROUP BY ALL),
        d AS (SELECT coalesce(n.target_id, p.target_id) AS t, coalesce(n.amt, 0) - coalesce(p.amt, 0) AS change
              FROM (SELECT * FROM c WHERE period = ?) n FULL JOIN (SELECT * FROM c WHERE period = ?) p
              ON p.target_id = n.target_id)
        SELECT coalesce(sum(change) FILTER (WHERE change > 0), 0), coalesce(-sum(change) FILTER (WHERE change < 0), 0)
        FROM d""", [period, prev, period, prev]).fetchall()[0]
    inc, dec = Decimal(rows[0]), Decimal(rows[1])
    return {"increases": inc, "decreases": dec, "net": inc - dec, "moved": min(inc, dec)}
