"""What approving a rule version would change: the version in force and the proposed one evaluated on the latest
month with data, without posting (the what-if path: the same pools, cascade and posting as month close, so the
cents equal what posting each version gives), side by side per business unit and per cost centre.

The conservation check is shown, not assumed: each side's cents are compared pool by pool with that pool's source
total rounded to the cent, and the two sides' totals with each other. Both sides read the same cost lines; they
can only differ in total when the versions claim different sources (an assets or licences step) — then
`same_total` is False and the difference is named.

Organisation-wide figures: refused to a scoped user (an app owner sees only their own cost centres everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb
import polars as pl

from engine.access.users import User
from engine.allocation import whatif
from engine.allocation.rollup import MONEY, by_cost_center
from engine.allocation.rounding import to_cents
from engine.errors import AccessDenied, InputError
from engine.frames import py_column
from engine.rules import versions
from engine.rules.model import UNALLOCATED

UNALLOCATED_LABEL = "Unallocated"


@dataclass(frozen=True)
class Side:
    """One version evaluated on the period."""

    version: int
    effective_from: str | None
    by_cost_center: pl.DataFrame       # cost_center_id, business_unit_id, amount
    pool_cents: int                    # Σ of each source pool's total rounded to the cent
    posted_cents: int                  # Σ of what the side would post
    pools_off: tuple[str, ...]         # source pools whose posted cents differ from their source cents

    @property
    def conserves(self) -> bool:
        return not self.pools_off and self.posted_cents == self.pool_cents


@dataclass(frozen=True)
class Impact:
    name: str
    period: str
    current: Side | None               # None: no version is in force for the period yet
    proposed: Side
    by_business_unit: pl.DataFrame     # business_unit_id, business_unit, current, proposed, delta
    by_cost_center: pl.DataFrame       # cost_center_id, cost_center, business_unit_id, business_unit, current, …

    @property
    def total_current(self) -> Decimal:
        return Decimal(self.current.posted_cents if self.current else 0) / 100

    @property
    def total_proposed(self) -> Decimal:
        return Decimal(self.proposed.posted_cents) / 100

    @property
    def same_total(self) -> bool:
        return self.current is None or self.current.posted_cents == self.proposed.posted_cents

    @property
    def conserves(self) -> bool:
        """Both sides post every pool's source cents, and (when both exist) the same total."""
        return self.proposed.conserves and (self.current is None or self.current.conserves) and self.same_total


def latest_period(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT max(billing_period) FROM cost_line").fetchall()
    if not row or not row[0][0]:
        raise InputError("no cost lines loaded: there is no month to show the impact on")
    return str(row[0][0])


def _side(con: duckdb.DuckDBPyConnection, name: str, version: int, effective_from: str | None,
          period: str) -> Side:
    prepared = whatif.prepare(con, period, name, version)
    rows = whatif.evaluate_rows(prepared)
    cents = [(k, t, int(a * 100)) for k, t, a in rows.select("target_kind", "target_id", "amount").iter_rows()]
    per_pool: dict[str, int] = {}
    for pool, amount in rows.select("source_pool", "amount").iter_rows():
        per_pool[pool] = per_pool.get(pool, 0) + int(amount * 100)
    source = {p: int(to_cents(v)) for p, v in prepared.data.pool_totals.items()}
    off = tuple(sorted(p for p in set(source) | set(per_pool) if source.get(p, 0) != per_pool.get(p, 0)))
    return Side(version, effective_from, by_cost_center(cents, prepared.data.org), sum(source.values()),
                sum(c for _, _, c in cents), off)


def _names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {u: n for u, n in con.execute("SELECT unit_id, name FROM org_unit").fetchall()}


def _join(current: pl.DataFrame | None, proposed: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    def agg(frame: pl.DataFrame, col: str) -> pl.DataFrame:
        return frame.group_by(keys).agg(pl.col("amount").sum().alias(col))

    right = agg(proposed, "proposed")
    left = agg(current, "current") if current is not None else right.select(keys).with_columns(
        pl.lit(Decimal(0)).cast(MONEY).alias("current"))
    joined = left.join(right, on=keys, how="full", coalesce=True, nulls_equal=True)
    return joined.with_columns(pl.col("current").fill_null(Decimal(0)).cast(MONEY),
                               pl.col("proposed").fill_null(Decimal(0)).cast(MONEY)).with_columns(
        (pl.col("proposed") - pl.col("current")).cast(MONEY).alias("delta"))


def impact(con: duckdb.DuckDBPyConnection, name: str, version: int, user: User | None,
           period: str | None = None) -> Impact:
    """Version `version` of `name` against the approved version in force for `period` (default: the latest month
    with cost lines), per business unit and per cost centre, largest change first. Nothing is written."""
    if user is None or user.scoped:
        raise AccessDenied("the impact of a rule change covers the whole organisation: it is for finops, admin"
                           " and auditors")
    period = period or latest_period(con)
    if not versions.PERIOD.match(period):
        raise InputError(f"period must be YYYY-MM, not {period!r}")
    chosen = versions.get(con, name, version)
    try:
        in_force = versions.as_of(con, name, period)
    except versions.VersionError:
        in_force = None
    proposed = _side(con, name, version, chosen.effective_from, period)
    current = (_side(con, name, in_force.version, in_force.effective_from, period)
               if in_force is not None else None)
    names = _names(con)

    def bu_label(bu: str | None, cc: str | None = None) -> str:
        if bu is None:
            return UNALLOCATED_LABEL if cc in (None, UNALLOCATED) else "No business unit"
        return names.get(bu, bu)

    cc_frame = _join(current.by_cost_center if current else None, proposed.by_cost_center,
                     ["cost_center_id", "business_unit_id"])
    cc_frame = cc_frame.with_columns(
        py_column(cc_frame, "cost_center", lambda c: UNALLOCATED_LABEL if c == UNALLOCATED else names.get(c, c),
                  "cost_center_id", dtype=pl.String()),
        py_column(cc_frame, "business_unit", bu_label, "business_unit_id", "cost_center_id", dtype=pl.String(),
                  skip_nulls=False),
    ).select("cost_center_id", "cost_center", "business_unit_id", "business_unit", "current", "proposed", "delta")
    bu_frame = (cc_frame.group_by("business_unit_id", "business_unit")
                .agg(pl.col("current").sum(), pl.col("proposed").sum(), pl.col("delta").sum())
                .with_columns(pl.col(c).cast(MONEY) for c in ("current", "proposed", "delta")))
    order = [pl.col("delta").abs(), pl.col("business_unit")]
    return Impact(name, period, current, proposed,
                  bu_frame.sort(order, descending=[True, False]),
                  cc_frame.sort([pl.col("delta").abs(), pl.col("cost_center_id")], descending=[True, False]))
