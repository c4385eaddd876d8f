"""Cost to operate: what running the allocation itself costs per month, kept as its own pool ("Allocation system"):
entered people hours (hours × rate), compute and storage; the measured run times of the month's allocation runs
(allocation_run_timing, written by every run) beside them; the pool as a share of the month's allocated spend; and
the automation opportunities of the close (manual steps entered, open exceptions, files with quarantined rows, open
anomalies and disputes)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

import duckdb

from engine.access import policy
from engine.access.users import User
from engine.errors import InputError
from engine.improvement.kpis import LATEST_RUNS
from engine.masterdata.as_of import check_period
from engine.store import audit, transaction

KINDS = ("people_hours", "compute", "storage", "manual_step")
POOL = "Allocation system (cost to operate)"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class CostToOperate:
    period: str
    people_hours: Decimal
    people_cost: Decimal
    compute: Decimal
    storage: Decimal
    run_seconds: float          # measured: every allocation run of the month
    runs: int
    allocated: Decimal          # the month's latest posted run
    opportunities: list[tuple[str, int]]

    @property
    def total(self) -> Decimal:
        return self.people_cost + self.compute + self.storage

    @property
    def share_pct(self) -> float | None:
        return None if not self.allocated else float(self.total / self.allocated * 100)


def enter(con: duckdb.DuckDBPyConnection, user: User, period: str, kind: str, quantity: Decimal | str,
          rate: Decimal | str = "1", note: str = "") -> str:
    """One entry: people hours at an hourly rate, a compute or storage amount (quantity 1 × rate), or manual steps
    (quantity steps, no money). Audited."""
    policy.require(user, "lead_improvement", "enter the cost to operate")
    check_period(period)
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}")
    q, r = Decimal(str(quantity)), Decimal(str(rate))
    if q < 0 or r < 0:
        raise InputError("quantities and rates are not negative")
    amount = Decimal(0) if kind == "manual_step" else (q * r).quantize(CENT)
    eid = uuid.uuid4().hex[:12]
    with transaction(con):
        con.execute("INSERT INTO operating_cost VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [eid, period, kind, q, amount, note.strip() or None, user.username, audit.now()])
        audit.record(con, user.username, "operating_cost.enter", "operating_cost", eid,
                     {"period": period, "kind": kind, "quantity": str(q), "amount": str(amount)})
    return eid


def cost_to_operate(con: duckdb.DuckDBPyConnection, period: str) -> CostToOperate:
    check_period(period)
    sums = dict(con.execute("SELECT kind, sum(amount) FROM operating_cost WHERE period = ? GROUP BY 1",
                            [period]).fetchall())
    qty = dict(con.execute("SELECT kind, sum(quantity) FROM operating_cost WHERE period = ? GROUP BY 1",
                           [period]).fetchall())
    secs, runs = con.execute("SELECT coalesce(sum(seconds), 0), count(*) FROM allocation_run_timing"
                             " WHERE period = ?", [period]).fetchall()[0]
    allocated = con.execute(f"SELECT coalesce(sum(r.posted_amount), 0) FROM allocation_result r JOIN ({LATEST_RUNS})"
                            " l ON l.run_key = r.run_key WHERE l.period = ? AND r.target_kind <> 'unallocated'",
                            [period]).fetchall()[0][0]
    exceptions = con.execute("SELECT count(*) FROM exception WHERE coalesce(valid_to, '9999-12') >= ?"
                             " AND coalesce(valid_from, '0000-00') <= ?", [period, period]).fetchall()[0][0]
    quarantined = con.execute("SELECT count(*) FROM ingest_batch WHERE rows_quarantined > 0 AND status = 'loaded'"
                              " AND (billing_period = ? OR billing_period IS NULL)", [period]).fetchall()[0][0]
    anomalies = con.execute("SELECT count(*) FROM anomaly WHERE period = ? AND status IN ('open', 'acknowledged')",
                            [period]).fetchall()[0][0]
    disputes = con.execute("SELECT count(*) FROM dispute WHERE period = ? AND status = 'open'",
                           [period]).fetchall()[0][0]

    def d(v: object) -> Decimal:
        return Decimal(str(v)) if v is not None else Decimal("0.00")

    return CostToOperate(
        period, d(qty.get("people_hours")), d(sums.get("people_hours")), d(sums.get("compute")),
        d(sums.get("storage")), float(secs), int(runs), d(allocated),
        [("Manual steps per close", int(d(qty.get("manual_step")))), ("Open allocation exceptions", int(exceptions)),
         ("Files with quarantined (unmapped) rows", int(quarantined)), ("Untriaged anomalies", int(anomalies)),
         ("Open disputes", int(disputes))])
