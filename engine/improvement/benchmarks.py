"""Benchmarks: allocation KPIs against target bands a FinOps lead can edit, seeded from published FinOps guidance
(the FinOps Foundation maturity model's sample KPIs, crawl → walk; docs/improvement.md cites the sources).

A band is (good, fair) in the KPI's unit and direction: for "higher" KPIs a value ≥ good is on target, ≥ fair near
target, else off target; for "lower" ones the comparisons flip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from engine.access import policy
from engine.access.users import User
from engine.errors import InputError, NotFound
from engine.store import audit, transaction


@dataclass(frozen=True)
class Band:
    kpi: str
    label: str
    direction: str      # higher or lower is better
    good: float
    fair: float
    source: str
    edited_by: str | None = None
    edited_at: datetime | None = None

    def rate(self, value: float | None) -> str:
        if value is None:
            return "no data"
        if self.direction == "higher":
            return "on target" if value >= self.good else "near target" if value >= self.fair else "off target"
        return "on target" if value <= self.good else "near target" if value <= self.fair else "off target"


FINOPS = "FinOps Foundation maturity model, sample KPIs (walk / crawl)"
HOUSE = "house default (no published benchmark)"
SEED: dict[str, Band] = {b.kpi: b for b in (
    Band("tag_coverage_pct", "Tag coverage %", "higher", 80, 50, FINOPS + ": tagging compliance 80% / 50%"),
    Band("unallocated_pct", "Unallocated %", "lower", 20, 50, FINOPS + ": cost allocation 80% / 50%"),
    Band("dispute_rate_pct", "Dispute rate % of charged", "lower", 1, 5, HOUSE),
    Band("forecast_mape_pct", "Forecast error (MAPE %)", "lower", 15, 20, FINOPS + ": forecast variance 15% / 20%"),
    Band("commitment_share_pct", "Spend under commitment %", "higher", 70, 60,
         FINOPS + ": RI/SP coverage 70% / 60%"),
    Band("idle_share_pct", "Idle (unused commitment) % of committed", "lower", 10, 20, HOUSE),
    Band("statements_opened_pct", "Statements opened by owners %", "higher", 80, 50, HOUSE),
)}


def bands(con: duckdb.DuckDBPyConnection) -> list[Band]:
    """The seeded bands with any edits applied."""
    edits = {r[0]: r[1:] for r in con.execute(
        "SELECT kpi, good, fair, updated_by, updated_at FROM kpi_target").fetchall()}
    out = []
    for kpi, b in SEED.items():
        if kpi in edits:
            good, fair, by, at = edits[kpi]
            b = Band(b.kpi, b.label, b.direction, float(good), float(fair), b.source + " — edited", by, at)
        out.append(b)
    return out


def set_band(con: duckdb.DuckDBPyConnection, user: User, kpi: str, good: float, fair: float) -> Band:
    policy.require(user, "lead_improvement", "edit KPI targets")
    seed = SEED.get(kpi)
    if seed is None:
        raise NotFound(f"no KPI {kpi!r} (known: {', '.join(SEED)})")
    if (seed.direction == "higher" and good < fair) or (seed.direction == "lower" and good > fair):
        raise InputError(f"{seed.label}: the on-target bound must be {'≥' if seed.direction == 'higher' else '≤'}"
                         " the near-target bound")
    with transaction(con):
        con.execute("DELETE FROM kpi_target WHERE kpi = ?", [kpi])
        con.execute("INSERT INTO kpi_target VALUES (?, ?, ?, ?, ?)", [kpi, good, fair, user.username, audit.now()])
        audit.record(con, user.username, "kpi_target.set", "kpi_target", kpi, {"good": good, "fair": fair})
    return next(b for b in bands(con) if b.kpi == kpi)


def measures(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, float | None]:
    """Organisation-wide values of the KPIs that are read straight from the store for `period` (forecast error,
    tag coverage, dispute rate and statements opened come from their own modules; the page joins them)."""
    un = con.execute("SELECT sum(posted_amount) FILTER (WHERE target_kind = 'unallocated'), sum(posted_amount)"
                     " FROM allocation_result WHERE run_key = (SELECT run_key FROM allocation_run WHERE period = ?"
                     " AND status = 'posted' ORDER BY finished_at DESC, run_key LIMIT 1)", [period]).fetchall()[0]
    cl = con.execute(
        "SELECT sum(effective_cost) FILTER (WHERE pricing_category = 'Committed'), sum(effective_cost),"
        " sum(effective_cost) FILTER (WHERE commitment_discount_status = 'Unused'),"
        " sum(effective_cost) FILTER (WHERE commitment_discount_id IS NOT NULL)"
        " FROM cost_line WHERE billing_period = ?", [period]).fetchall()[0]

    def pct(a: object, b: object) -> float | None:
        return None if not b else 100.0 * float(a or 0) / float(b)  # type: ignore[arg-type]

    return {"unallocated_pct": pct(un[0], un[1]), "commitment_share_pct": pct(cl[0], cl[1]),
            "idle_share_pct": pct(cl[2], cl[3])}
