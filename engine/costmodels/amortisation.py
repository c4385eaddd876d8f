"""RI / savings-plan amortisation and the unused-commitment policy, month by month, as the cost-model screen shows it.

From FOCUS billing: a commitment's purchase is *billed* when paid (upfront or monthly fee) and *amortised* as
EffectiveCost on the usage it covers (`Used`) and on the capacity nobody used (`Unused`). Per month this module
shows both, the utilisation, and who carries what under the unused-commitment policy in force for that month
(`commitments.policy_for_period`; with no saved version the default `keep_central` applies and is named so).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl
from pydantic import ValidationError

from engine.access import policy
from engine.access.users import User
from engine.costmodels import commitments as cm
from engine.errors import InputError, NotFound, invalid
from engine.store.sql import query

MONEY = pl.Decimal(18, 2)
DEFAULT_POLICY = cm.CommitmentPolicy(mode="keep_central", version=1, reason="default (no policy saved yet)")


def amortisation_by_month(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per month: purchases billed, amortised cost (used + unused effective), used, unused and utilisation."""
    return query(con, """
        SELECT billing_period AS period,
               CAST(round(coalesce(sum(billed_cost) FILTER (WHERE charge_category = 'Purchase'), 0), 2)
                    AS DECIMAL(18, 2)) AS purchases_billed,
               CAST(round(coalesce(sum(effective_cost) FILTER (WHERE commitment_discount_status IN ('Used', 'Unused')
                    AND charge_category = 'Usage'), 0), 2) AS DECIMAL(18, 2)) AS amortised,
               CAST(round(coalesce(sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Used'
                    AND charge_category = 'Usage'), 0), 2) AS DECIMAL(18, 2)) AS used,
               CAST(round(coalesce(sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Unused'
                    AND charge_category = 'Usage'), 0), 2) AS DECIMAL(18, 2)) AS unused
        FROM cost_line WHERE commitment_discount_id IS NOT NULL
        GROUP BY ALL ORDER BY period
    """).with_columns(
        pl.when(pl.col("amortised") != 0)
        .then(pl.col("used").cast(pl.Float64) / pl.col("amortised").cast(pl.Float64))
        .otherwise(None).alias("utilisation"))


@dataclass(frozen=True)
class CommitmentMonth:
    """One month under its policy: per commitment utilisation, the policy's lines and their totals per kind."""

    period: str
    policy: cm.CommitmentPolicy
    policy_saved: bool
    utilisation: pl.DataFrame
    lines: pl.DataFrame

    def totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {"covered_usage": Decimal("0.00"), "unused_commitment": Decimal("0.00"),
                                   "commitment_savings": Decimal("0.00")}
        for kind, amount in self.lines.select("line_kind", "amount").iter_rows():
            out[kind] += amount
        return out

    def central(self) -> pl.DataFrame:
        """What IT carries centrally this month, per commitment (unused and, on demand-equivalent, savings)."""
        return (self.lines.filter(pl.col("line_kind") != "covered_usage")
                .group_by("commitment_id", "line_kind").agg(pl.col("amount").sum())
                .sort("commitment_id", "line_kind"))


def policy_in_force(con: duckdb.DuckDBPyConnection, period: str) -> tuple[cm.CommitmentPolicy, bool]:
    """The saved policy version in force for `period`, or the default (and False) when none is."""
    try:
        return cm.policy_for_period(cm.load_policies(con), period), True
    except NotFound:
        return DEFAULT_POLICY, False


def month(con: duckdb.DuckDBPyConnection, period: str, policy: cm.CommitmentPolicy | None = None
          ) -> CommitmentMonth:
    """The month's commitments under `policy` (a preview) or the policy in force; lines conserve per commitment."""
    usage = cm.focus_commitments(con, period)
    if policy is None:
        pol, saved = policy_in_force(con, period)
    else:
        pol, saved = policy, False
    util = cm.utilisation(usage) if usage.height else pl.DataFrame(
        schema={"commitment_id": pl.String, "used_effective": MONEY, "unused_effective": MONEY, "on_demand": MONEY,
                "utilisation": pl.Float64})
    return CommitmentMonth(period, pol, saved, util, cm.apply_policy_to_focus(usage, pol))


def save_policy(con: duckdb.DuckDBPyConnection, user: User, mode: str, effective_from: str,
                reason: str) -> cm.CommitmentPolicy:
    """A new version of the unused-commitment policy (finops/admin), with the reason; audited by `commitments`."""
    policy.require(user, "edit_cost_models", "change the unused-commitment policy")
    if not reason.strip():
        raise InputError("say why the policy changes: it moves money between teams and IT")
    try:
        new = cm.CommitmentPolicy.model_validate({"mode": mode, "effective_from": effective_from,
                                                  "reason": reason.strip()})
    except ValidationError as exc:
        raise invalid("unused-commitment policy", exc) from None
    return cm.save_policy(con, new, user.username)
