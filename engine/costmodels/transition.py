"""A phased move from showback to chargeback per business unit, and its expected impact month by month.

A plan names, per business unit, the chargeback share from a month on (0 % → 50 % → 100 %, say). Before a unit's
first phase it is on showback (0 %). The expected monthly cost of a unit is the allocated cost of the latest posted
run (its run rate), so the scenario answers "what will each unit be *invoiced* each month, and how much more than
last month" while the full cost is still shown to everyone. Cents: each month's invoiced parts are rounded with the
largest-remainder method over the units (`pricing.round_to_total`), so invoiced + still-shown-back = allocated for
every unit and month, to the cent. Plans are versioned per name and every save is audited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.access import policy
from engine.access.users import User
from engine.allocation.runs import latest_run
from engine.costmodels.pricing import round_to_total
from engine.costmodels.scenarios import load_allocated
from engine.errors import InputError, NotFound, invalid
from engine.store import audit, transaction

MONEY = pl.Decimal(18, 2)
UNALLOCATED = "UNALLOCATED"


def _period_ok(v: str) -> bool:
    return len(v) == 7 and v[4] == "-" and (v[:4] + v[5:]).isdigit() and 1 <= int(v[5:]) <= 12


class Phase(BaseModel):
    """From `effective_from` on, `chargeback_pct` of the unit's allocated cost is invoiced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    business_unit_id: str = Field(min_length=1)
    effective_from: str
    chargeback_pct: Decimal = Field(ge=0, le=100)

    @field_validator("effective_from")
    @classmethod
    def _period(cls, v: str) -> str:
        if not _period_ok(v):
            raise InputError("effective_from must be YYYY-MM")
        return v


class TransitionPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    phases: list[Phase] = Field(min_length=1)
    version: int | None = None

    @model_validator(mode="after")
    def _one_share_per_month(self) -> TransitionPlan:
        keys = [(p.business_unit_id, p.effective_from) for p in self.phases]
        if len(keys) != len(set(keys)):
            raise InputError("a business unit has two phases starting in the same month")
        return self

    def share(self, business_unit_id: str, period: str) -> Decimal:
        """The chargeback % in force for the unit in `period` (0 before its first phase: showback)."""
        live = [p for p in self.phases if p.business_unit_id == business_unit_id and p.effective_from <= period]
        return max(live, key=lambda p: p.effective_from).chargeback_pct if live else Decimal(0)


def plan_from(name: str, phases: Sequence[Mapping[str, object]]) -> TransitionPlan:
    """Build a plan from user input; a bad phase is one InputError naming it."""
    try:
        return TransitionPlan.model_validate({"name": name, "phases": list(phases)})
    except ValidationError as exc:
        raise invalid("transition plan", exc) from None


def phased(name: str, business_units: Sequence[str], start: str, steps: Sequence[Decimal],
           months_per_step: int) -> TransitionPlan:
    """The common shape: every unit moves through `steps` (e.g. 0, 50, 100), one step every `months_per_step`."""
    if months_per_step < 1:
        raise InputError("each step lasts at least one month")
    if not _period_ok(start):
        raise InputError(f"start must be YYYY-MM, not {start!r}")
    phases = []
    for i, pct in enumerate(steps):
        mi = int(start[:4]) * 12 + int(start[5:]) - 1 + i * months_per_step
        phases += [{"business_unit_id": bu, "effective_from": f"{mi // 12:04d}-{mi % 12 + 1:02d}",
                    "chargeback_pct": pct} for bu in business_units]
    return plan_from(name, phases)


def months(start: str, count: int) -> list[str]:
    if not _period_ok(start) or count < 1:
        raise InputError("need a start month (YYYY-MM) and at least one month")
    mi = int(start[:4]) * 12 + int(start[5:]) - 1
    return [f"{(mi + k) // 12:04d}-{(mi + k) % 12 + 1:02d}" for k in range(count)]


def run_rate(con: duckdb.DuckDBPyConnection, period: str | None = None) -> tuple[str, dict[str, Decimal]]:
    """Allocated cost per business unit of the latest posted run (of `period`, else the latest posted month).
    The explicit unallocated line is absorbed centrally and never invoiced, so it is left out."""
    if period is None:
        row = con.sql("SELECT max(period) FROM allocation_run WHERE status = 'posted'").fetchall()[0][0]
        if row is None:
            raise NotFound("no posted allocation run yet: post a month close first")
        period = str(row)
    run = latest_run(con, period)
    if run is None:
        raise NotFound(f"no posted allocation run for {period}")
    alloc = load_allocated(con, run).filter(pl.col("target_id") != UNALLOCATED)
    by_bu = alloc.group_by("business_unit_id").agg(pl.col("posted_amount").sum()).sort("business_unit_id")
    return period, {str(bu): Decimal(a) for bu, a in by_bu.iter_rows()}


IMPACT_SCHEMA = pl.Schema({
    "period": pl.String(), "business_unit_id": pl.String(), "allocated": MONEY, "chargeback_pct": pl.Decimal(5, 2),
    "invoiced": MONEY, "showback_only": MONEY, "change_vs_prior": MONEY,
})


def impact(plan: TransitionPlan, allocated: Mapping[str, Decimal], periods: Sequence[str]) -> pl.DataFrame:
    """Per month and business unit: allocated (run rate), chargeback %, invoiced, still shown back only, and the
    change in the invoiced amount against the month before (the first month compares with showback: 0)."""
    rows: list[dict[str, object]] = []
    prior: dict[str, Decimal] = {bu: Decimal("0.00") for bu in allocated}
    for period in periods:
        exact = {bu: Decimal(a) * plan.share(bu, period) / 100 for bu, a in allocated.items()}
        invoiced = round_to_total(exact, order=sorted(exact)) if exact else {}
        for bu in sorted(allocated):
            amount = Decimal(allocated[bu])
            rows.append({"period": period, "business_unit_id": bu, "allocated": amount,
                         "chargeback_pct": plan.share(bu, period), "invoiced": invoiced[bu],
                         "showback_only": amount - invoiced[bu], "change_vs_prior": invoiced[bu] - prior[bu]})
            prior[bu] = invoiced[bu]
    return pl.DataFrame(rows, schema=IMPACT_SCHEMA, orient="row")


def save_plan(con: duckdb.DuckDBPyConnection, user: User, plan: TransitionPlan) -> TransitionPlan:
    """Store as the next version of the plan's name (finops/admin); audited with every phase."""
    policy.require(user, "edit_cost_models", "save a transition plan")
    if not plan.name.strip():
        raise InputError("a transition plan needs a name")
    with transaction(con):
        nxt = int(con.sql("SELECT coalesce(max(version), 0) + 1 FROM transition_plan WHERE plan = ?",
                          params=[plan.name]).fetchall()[0][0])
        for p in plan.phases:
            con.execute("INSERT INTO transition_plan (plan, version, business_unit_id, effective_from,"
                        " chargeback_pct, author) VALUES (?, ?, ?, ?, ?, ?)",
                        [plan.name, nxt, p.business_unit_id, p.effective_from, p.chargeback_pct, user.username])
        audit.record(con, user.username, "transition_plan.save", "transition_plan", f"{plan.name}@{nxt}",
                     {"phases": [{"business_unit_id": p.business_unit_id, "effective_from": p.effective_from,
                                  "chargeback_pct": str(p.chargeback_pct)} for p in plan.phases]})
    return plan.model_copy(update={"version": nxt})


def load_plan(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> TransitionPlan:
    if version is None:
        v = con.sql("SELECT max(version) FROM transition_plan WHERE plan = ?", params=[name]).fetchall()[0][0]
        if v is None:
            raise NotFound(f"no transition plan {name!r}")
        version = int(v)
    rows = con.sql("SELECT business_unit_id, effective_from, chargeback_pct FROM transition_plan"
                   " WHERE plan = ? AND version = ? ORDER BY business_unit_id, effective_from",
                   params=[name, version]).fetchall()
    if not rows:
        raise NotFound(f"no transition plan {name!r} version {version}")
    return TransitionPlan(name=name, version=version, phases=[
        Phase(business_unit_id=b, effective_from=e, chargeback_pct=Decimal(p)) for b, e, p in rows])


def plan_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT DISTINCT plan FROM transition_plan ORDER BY 1").fetchall()]


def business_unit_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {str(u): str(n) for u, n in con.sql(
        "SELECT unit_id, name FROM org_unit WHERE kind = 'business_unit' ORDER BY unit_id").fetchall()}
