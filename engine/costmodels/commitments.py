"""Reserved instances and savings plans: amortisation, covered usage at effective cost, and unused commitment.

A commitment is paid whether or not it is used. Who carries the unused part is a policy decision with real money
attached, so it is explicit, named and versioned (effective from a period) rather than a side effect of a rule:

- ``keep_central``: consumers pay their covered usage at the effective (amortised) rate; unused stays with IT.
- ``spread_pro_rata``: consumers carry the whole commitment in proportion to their covered usage.
- ``on_demand_equivalent``: consumers pay what the usage would have cost on demand; IT keeps the savings (a credit)
  and the waste (a debit) centrally, so teams see a stable price and IT owns the commitment decision.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.costmodels.pricing import split_cents, to_cents
from engine.errors import InputError, NotFound
from engine.store import audit, transaction
from engine.store.sql import frame

UnusedPolicy = Literal["keep_central", "spread_pro_rata", "on_demand_equivalent"]
HOURS_PER_YEAR = 8760


class CommitmentPolicy(BaseModel):
    """One version of the unused-commitment policy; a new decision is a new version, never an edit."""

    model_config = ConfigDict(frozen=True)

    mode: UnusedPolicy = "keep_central"
    version: int = Field(default=1, ge=1)
    effective_from: str = "1900-01"
    central_target: str = "IT-CENTRAL"
    reason: str = ""

    @field_validator("effective_from")
    @classmethod
    def _period(cls, v: str) -> str:
        if len(v) != 7 or v[4] != "-" or not (v[:4] + v[5:]).isdigit() or not 1 <= int(v[5:]) <= 12:
            raise InputError("effective_from must be YYYY-MM")
        return v


def policy_for_period(policies: Sequence[CommitmentPolicy], period: str) -> CommitmentPolicy:
    """The latest version in force for `period`; periods are YYYY-MM so string order is time order."""
    live = [p for p in policies if p.effective_from <= period]
    if not live:
        raise NotFound(f"no unused-commitment policy is in force for {period}")
    return max(live, key=lambda p: (p.effective_from, p.version))


@dataclass(frozen=True)
class Commitment:
    """A reservation or savings plan. Units: instance-hours for an RI, dollars of committed spend for a plan."""

    commitment_id: str
    upfront: Decimal
    recurring_hourly: Decimal
    term_hours: int = HOURS_PER_YEAR
    units_per_hour: Decimal = Decimal(1)
    kind: Literal["reserved_instance", "savings_plan"] = "reserved_instance"

    def amortised_hourly(self) -> Decimal:
        """Upfront spread evenly over every hour of the term, plus the recurring fee: the effective hourly cost."""
        if self.term_hours <= 0:
            raise InputError("term must be positive")
        return self.upfront / Decimal(self.term_hours) + self.recurring_hourly

    def effective_unit_rate(self) -> Decimal:
        return self.amortised_hourly() / self.units_per_hour


@dataclass(frozen=True)
class CommitmentLine:
    target_id: str
    line_kind: Literal["covered_usage", "unused_commitment", "commitment_savings"]
    amount: Decimal


@dataclass(frozen=True)
class CommitmentAllocation:
    """A commitment's period cost and who carries it; the lines add up to `period_cost` to the cent."""

    commitment_id: str
    policy: CommitmentPolicy
    period_cost: Decimal
    capacity_units: Decimal
    used_units: Decimal
    lines: list[CommitmentLine] = field(default_factory=list)

    @property
    def utilisation(self) -> Decimal:
        return self.used_units / self.capacity_units if self.capacity_units else Decimal(0)

    def consumer_charges(self) -> dict[str, Decimal]:
        return {ln.target_id: ln.amount for ln in self.lines if ln.line_kind == "covered_usage"}

    def central(self, kind: str) -> Decimal:
        return sum((ln.amount for ln in self.lines if ln.line_kind == kind), Decimal(0))


def allocate_commitment(commitment: Commitment, hours: Decimal, usage: Mapping[str, Decimal],
                        policy: CommitmentPolicy, *, on_demand: Mapping[str, Decimal] | None = None
                        ) -> CommitmentAllocation:
    """Share one commitment's cost for a period of `hours` among consumers by the units each used.

    `on_demand` holds each consumer's on-demand-equivalent cost of the covered usage (needed only by that policy;
    a savings plan covers mixed instance types, so a single rate would not do).
    """
    if any(u < 0 for u in usage.values()):
        raise InputError("usage must be non-negative")
    period_cost = to_cents(commitment.amortised_hourly() * hours)
    capacity = commitment.units_per_hour * hours
    used = sum(usage.values(), Decimal(0))
    if used > capacity:
        raise InputError(f"{commitment.commitment_id}: used {used} units exceeds capacity {capacity}")
    consumers = {k: v for k, v in usage.items() if v > 0}
    central = policy.central_target
    lines: list[CommitmentLine] = []

    if policy.mode == "spread_pro_rata" and consumers:
        for target, amount in split_cents(period_cost, consumers).items():
            lines.append(CommitmentLine(target, "covered_usage", amount))
    elif policy.mode == "on_demand_equivalent" and consumers:
        if on_demand is None or set(consumers) - set(on_demand):
            raise InputError("on_demand_equivalent needs each consumer's on-demand-equivalent cost")
        od = {k: on_demand[k] for k in consumers}
        od_total = to_cents(sum(od.values(), Decimal(0)))
        for target, amount in split_cents(od_total, od).items():
            lines.append(CommitmentLine(target, "covered_usage", amount))
        used_at_effective = to_cents(used * commitment.effective_unit_rate())
        lines.append(CommitmentLine(central, "commitment_savings", used_at_effective - od_total))
        lines.append(CommitmentLine(central, "unused_commitment", period_cost - used_at_effective))
    else:
        covered = to_cents(used * commitment.effective_unit_rate()) if consumers else Decimal("0.00")
        if consumers:
            for target, amount in split_cents(covered, consumers).items():
                lines.append(CommitmentLine(target, "covered_usage", amount))
        lines.append(CommitmentLine(central, "unused_commitment", period_cost - covered))
    return CommitmentAllocation(commitment.commitment_id, policy, period_cost, capacity, used, lines)


def save_policy(con: duckdb.DuckDBPyConnection, policy: CommitmentPolicy, actor: str) -> CommitmentPolicy:
    """Store the policy as the next version (version numbers are assigned here) and audit who decided it."""
    with transaction(con):
        nxt = int(con.sql("SELECT coalesce(max(version), 0) + 1 FROM commitment_policy").fetchall()[0][0])
        saved = policy.model_copy(update={"version": nxt})
        con.execute(
            "INSERT INTO commitment_policy (version, mode, effective_from, central_target, reason, author)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [saved.version, saved.mode, saved.effective_from, saved.central_target, saved.reason, actor],
        )
        audit.record(con, actor, "commitment_policy.save", "commitment_policy", str(nxt),
                     json.loads(saved.model_dump_json()))
    return saved


def load_policies(con: duckdb.DuckDBPyConnection) -> list[CommitmentPolicy]:
    rows = con.sql("SELECT version, mode, effective_from, central_target, reason FROM commitment_policy"
                   " ORDER BY version").fetchall()
    return [CommitmentPolicy(version=v, mode=m, effective_from=e, central_target=c, reason=r or "")
            for v, m, e, c, r in rows]


COMMITMENT_LINES_SCHEMA = pl.Schema({
    "commitment_id": pl.String(), "target_id": pl.String(), "line_kind": pl.String(), "amount": pl.Decimal(18, 2),
})


def focus_commitments(con: duckdb.DuckDBPyConnection, period: str, *,
                      consumer_column: Literal["tag_cost_center", "tag_application", "sub_account_id"]
                      = "tag_cost_center") -> pl.DataFrame:
    """Per commitment and consumer from FOCUS lines: covered usage at effective cost, its on-demand equivalent
    (ListCost) and the commitment's unused effective cost — the inputs the unused-commitment policy needs."""
    return frame(con.sql(
        f"""
        SELECT commitment_discount_id AS commitment_id,
               coalesce({consumer_column}, 'UNALLOCATED') AS target_id,
               sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Used') AS used_effective,
               sum(coalesce(list_cost, effective_cost)) FILTER (WHERE commitment_discount_status = 'Used')
                   AS on_demand,
               sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Unused') AS unused_effective
        FROM cost_line
        WHERE billing_period = ? AND commitment_discount_id IS NOT NULL AND charge_category = 'Usage'
          AND commitment_discount_status IN ('Used', 'Unused')
        GROUP BY ALL ORDER BY ALL
        """,
        params=[period],
    ))


def apply_policy_to_focus(usage: pl.DataFrame, policy: CommitmentPolicy) -> pl.DataFrame:
    """Lines (commitment, target, kind, cents) per policy; per commitment they add up to used + unused effective
    cost rounded to the cent. Consumers' used effective cost stands in for units (it is units × effective rate)."""
    rows: list[dict[str, object]] = []
    for cid in sorted(set(usage["commitment_id"].to_list())):
        part = usage.filter(pl.col("commitment_id") == cid)
        used = {t: Decimal(u) for t, u in part.select("target_id", "used_effective").iter_rows() if u}
        od = {t: Decimal(o) for t, o in part.select("target_id", "on_demand").iter_rows() if o}
        unused = sum((Decimal(x) for x in part["unused_effective"].to_list() if x), Decimal(0))
        total = to_cents(sum(used.values(), Decimal(0)) + unused)
        used_cents = to_cents(sum(used.values(), Decimal(0)))
        lines: list[tuple[str, str, Decimal]] = []
        if policy.mode == "spread_pro_rata" and used:
            lines += [(t, "covered_usage", a) for t, a in split_cents(total, used).items()]
        elif policy.mode == "on_demand_equivalent" and used:
            od_total = to_cents(sum((od.get(t, used[t]) for t in used), Decimal(0)))
            lines += [(t, "covered_usage", a) for t, a in
                      split_cents(od_total, {t: od.get(t, used[t]) for t in used}).items()]
            lines.append((policy.central_target, "commitment_savings", used_cents - od_total))
            lines.append((policy.central_target, "unused_commitment", total - used_cents))
        else:
            if used:
                lines += [(t, "covered_usage", a) for t, a in split_cents(used_cents, used).items()]
            lines.append((policy.central_target, "unused_commitment", total - used_cents))
        rows += [{"commitment_id": cid, "target_id": t, "line_kind": k, "amount": a} for t, k, a in lines]
    return pl.DataFrame(rows, schema=COMMITMENT_LINES_SCHEMA, orient="row")


def utilisation(usage: pl.DataFrame) -> pl.DataFrame:
    """Per commitment: used and unused effective cost and utilisation (used / total), the number IT manages."""
    return (usage.group_by("commitment_id")
            .agg(pl.col("used_effective").sum(), pl.col("unused_effective").sum(), pl.col("on_demand").sum())
            .with_columns((pl.col("used_effective").cast(pl.Float64)
                           / (pl.col("used_effective") + pl.col("unused_effective")).cast(pl.Float64))
                          .alias("utilisation"))
            .sort("commitment_id"))
