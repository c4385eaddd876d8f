"""Depreciation schedules as the cost-model screen reads them: one asset's schedule, the pools' month, disposals.

The maths is `engine/costmodels/depreciation.py`; this module reads the register, applies disposals and shapes the
figures a fixed-asset accountant checks: method, convention, cost, accumulated depreciation and book value.

- A *pool* is the asset class (laptop, server, storage …): the unit the register, the capex policy and the
  allocation's `assets` steps all group by.
- A disposal stops depreciation: the schedule keeps the months that have ended by the disposal date (the same rule
  as `depreciation.book_value`), the book value then is written off, and gain or loss = proceeds − that book value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl

from engine.access import policy
from engine.access.users import User
from engine.costmodels import depreciation as dep
from engine.errors import InputError, NotFound
from engine.store import audit, transaction

MONEY = pl.Decimal(18, 2)
POOL_SCHEMA = pl.Schema({
    "pool": pl.String(), "assets": pl.Int64(), "capex_assets": pl.Int64(), "cost": MONEY, "depreciation": MONEY,
    "accumulated": MONEY, "book_value": MONEY, "disposed": pl.Int64(),
})


@dataclass(frozen=True)
class Disposal:
    asset_id: str
    disposed_on: date
    proceeds: Decimal
    reason: str
    recorded_by: str


@dataclass(frozen=True)
class AssetSchedule:
    """One asset's register facts, its capex/opex class, its monthly schedule and (when disposed) the write-off."""

    asset_id: str
    pool: str
    cost_center_id: str | None
    method: str
    convention: str
    cost: Decimal
    residual: Decimal
    useful_life_months: int
    in_service: date
    classification: str
    schedule: pl.DataFrame
    disposal: Disposal | None

    @property
    def book_value_at_disposal(self) -> Decimal | None:
        if self.disposal is None:
            return None
        return self.cost - sum(self.schedule["depreciation"].to_list(), Decimal(0))

    @property
    def gain_or_loss(self) -> Decimal | None:
        bv = self.book_value_at_disposal
        return None if bv is None or self.disposal is None else self.disposal.proceeds - bv


def _last_ended_period(d: date) -> str:
    """The last month that has ended by `d` (a month is posted on its last day)."""
    mi = d.year * 12 + d.month - 1 - (0 if date.fromordinal(d.toordinal() + 1).month != d.month else 1)
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def disposals(con: duckdb.DuckDBPyConnection) -> dict[str, Disposal]:
    rows = con.sql("SELECT asset_id, disposed_on, proceeds, reason, recorded_by FROM asset_disposal").fetchall()
    return {r[0]: Disposal(r[0], r[1], Decimal(r[2]), r[3], r[4]) for r in rows}


def _items(con: duckdb.DuckDBPyConnection) -> dict[str, dep.RegisterItem]:
    items, _ = dep.register_from_store(con)
    return {i.asset.asset_id: i for i in items}


def _asset_schedule(item: dep.RegisterItem, disposal: Disposal | None, fy_start: int,
                    capex: dep.CapexPolicy) -> AssetSchedule:
    a = item.asset
    kind = dep.classify(a.cost, a.useful_life_months, item.asset_class, capex)
    if kind == "capex":
        last = _last_ended_period(disposal.disposed_on) if disposal else None
        sched = dep.schedule(a, fiscal_year_start_month=fy_start, last_period=last)
    else:  # opex: expensed in full in the purchase month, nothing to depreciate
        sched = pl.DataFrame([{"asset_id": a.asset_id, "component": "whole", "cost_center_id": a.cost_center_id,
                               "period": f"{a.in_service:%Y-%m}", "depreciation": a.cost, "accumulated": a.cost,
                               "book_value": Decimal("0.00")}], schema=dep.SCHEDULE_SCHEMA, orient="row")
    return AssetSchedule(a.asset_id, item.asset_class, a.cost_center_id, a.method, a.convention, a.cost, a.residual,
                         a.useful_life_months, a.in_service, kind, sched, disposal)


def asset_schedule(con: duckdb.DuckDBPyConnection, asset_id: str, *, fiscal_year_start_month: int = 1,
                   capex: dep.CapexPolicy | None = None) -> AssetSchedule:
    """One asset's schedule (per month: depreciation, accumulated, book value), stopped at its disposal."""
    item = _items(con).get(asset_id)
    if item is None:
        exists = con.sql("SELECT count(*) FROM asset WHERE asset_id = ?", params=[asset_id]).fetchall()[0][0]
        if exists:
            raise InputError(f"asset {asset_id} cannot be scheduled: its cost, date, life or method is missing")
        raise NotFound(f"no asset {asset_id!r}")
    return _asset_schedule(item, disposals(con).get(asset_id), fiscal_year_start_month, capex or dep.CapexPolicy())


def pools_for_period(con: duckdb.DuckDBPyConnection, period: str, *, fiscal_year_start_month: int = 1,
                     capex: dep.CapexPolicy | None = None) -> pl.DataFrame:
    """Per pool (asset class) for one month: capitalised assets in service by then, their cost, the month's
    depreciation, accumulated depreciation and book value at month end. Disposed assets leave the pool from the
    month after their last depreciated month; opex items are not in a depreciation pool."""
    pol = capex or dep.CapexPolicy()
    gone = disposals(con)
    acc: dict[str, dict[str, Decimal | int]] = {}
    for item in _items(con).values():
        a = item.asset
        slot = acc.setdefault(item.asset_class, {"assets": 0, "capex_assets": 0, "cost": Decimal(0),
                                                 "depreciation": Decimal(0), "accumulated": Decimal(0),
                                                 "book_value": Decimal(0), "disposed": 0})
        if f"{a.in_service:%Y-%m}" > period:
            continue
        slot["assets"] = int(slot["assets"]) + 1
        if dep.classify(a.cost, a.useful_life_months, item.asset_class, pol) != "capex":
            continue
        d = gone.get(a.asset_id)
        if d is not None and _last_ended_period(d.disposed_on) < period:
            slot["disposed"] = int(slot["disposed"]) + 1
            continue
        sched = _asset_schedule(item, d, fiscal_year_start_month, pol).schedule
        upto = sched.filter(pl.col("period") <= period)
        month = sum(upto.filter(pl.col("period") == period)["depreciation"].to_list(), Decimal(0))
        done = sum(upto["depreciation"].to_list(), Decimal(0))
        slot["capex_assets"] = int(slot["capex_assets"]) + 1
        slot["cost"] = Decimal(slot["cost"]) + a.cost
        slot["depreciation"] = Decimal(slot["depreciation"]) + month
        slot["accumulated"] = Decimal(slot["accumulated"]) + done
        slot["book_value"] = Decimal(slot["book_value"]) + a.cost - done
    rows = [{"pool": k, **v} for k, v in sorted(acc.items())]
    return pl.DataFrame(rows, schema=POOL_SCHEMA, orient="row")


def pool_assets(con: duckdb.DuckDBPyConnection, pool: str, period: str, *, fiscal_year_start_month: int = 1,
                capex: dep.CapexPolicy | None = None) -> pl.DataFrame:
    """The assets of one pool with their method, convention, the month's depreciation and book value at month end."""
    pol = capex or dep.CapexPolicy()
    gone = disposals(con)
    rows: list[dict[str, object]] = []
    for item in sorted(_items(con).values(), key=lambda i: i.asset.asset_id):
        a = item.asset
        if item.asset_class != pool or f"{a.in_service:%Y-%m}" > period:
            continue
        s = _asset_schedule(item, gone.get(a.asset_id), fiscal_year_start_month, pol)
        upto = s.schedule.filter(pl.col("period") <= period)
        done = sum(upto["depreciation"].to_list(), Decimal(0))
        rows.append({"asset_id": a.asset_id, "cost_center_id": a.cost_center_id, "method": a.method,
                     "convention": a.convention, "classification": s.classification, "in_service": a.in_service,
                     "cost": a.cost,
                     "depreciation": sum(upto.filter(pl.col("period") == period)["depreciation"].to_list(),
                                         Decimal(0)),
                     "book_value": a.cost - done, "disposed_on": s.disposal.disposed_on if s.disposal else None})
    return pl.DataFrame(rows, schema={"asset_id": pl.String, "cost_center_id": pl.String, "method": pl.String,
                                      "convention": pl.String, "classification": pl.String, "in_service": pl.Date,
                                      "cost": MONEY, "depreciation": MONEY, "book_value": MONEY,
                                      "disposed_on": pl.Date}, orient="row")


def record_disposal(con: duckdb.DuckDBPyConnection, user: User, asset_id: str, disposed_on: date,
                    proceeds: Decimal, reason: str, *, fiscal_year_start_month: int = 1) -> AssetSchedule:
    """Dispose of an asset (finops/admin): depreciation stops, the book value is written off; audited."""
    policy.require(user, "edit_cost_models", "record an asset disposal")
    if not reason.strip():
        raise InputError("a disposal needs a reason (sold, scrapped, lost …)")
    if proceeds < 0:
        raise InputError("disposal proceeds cannot be negative")
    item = _items(con).get(asset_id)
    if item is None:
        raise NotFound(f"no schedulable asset {asset_id!r}")
    if disposed_on < item.asset.in_service:
        raise InputError(f"{asset_id} cannot be disposed of before it entered service ({item.asset.in_service})")
    if asset_id in disposals(con):
        raise InputError(f"{asset_id} is already disposed of")
    with transaction(con):
        con.execute("INSERT INTO asset_disposal (asset_id, disposed_on, proceeds, reason, recorded_by)"
                    " VALUES (?, ?, ?, ?, ?)", [asset_id, disposed_on, proceeds, reason.strip(), user.username])
        s = _asset_schedule(item, disposals(con)[asset_id], fiscal_year_start_month, dep.CapexPolicy())
        audit.record(con, user.username, "asset.dispose", "asset", asset_id,
                     json.loads(json.dumps({"disposed_on": disposed_on.isoformat(), "proceeds": str(proceeds),
                                            "reason": reason.strip(),
                                            "book_value": str(s.book_value_at_disposal)})))
    return s
