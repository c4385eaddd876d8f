"""The granularity check: can the metering data actually loaded support the granularity chosen for each pool?

For a pool shared by a driver (or several, weighted), coverage is the share of the chosen granularity's targets
(cost centres, applications or users) that have a positive quantity of the driver in the month; with several
drivers the weakest counts. For a direct pool it is the share of the pool's cost whose owner was resolved. Pools
shared evenly, by a split or by what earlier steps allocated need no metering. A pool is flagged when its coverage
is below its own threshold (`min_coverage_pct`, 80 % unless the scope says otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import duckdb

from engine.allocation.pools import PoolData
from engine.rules.model import RuleSet, Step
from engine.scope.model import GRANULARITY_LABELS, OVERHEAD_STEP, Scope

PLURAL = {"cost_center": "cost centres", "application": "applications", "user": "users",
          "business_unit": "business units"}


@dataclass(frozen=True)
class Coverage:
    step_id: str
    name: str
    granularity: str
    metered_by: str                 # the driver(s), "owner resolution" for direct pools, "" when none is needed
    covered: int | None             # targets with data (None for direct pools and unmetered methods)
    population: int | None
    coverage_pct: Decimal | None    # None: no metering needed
    threshold_pct: Decimal
    flagged: bool
    message: str


def _population(con: duckdb.DuckDBPyConnection, data: PoolData, kind: str) -> set[str]:
    if kind == "user":
        rows = con.execute(
            "SELECT target_id FROM driver_value WHERE period = ? AND target_kind = 'user'"
            " UNION SELECT username FROM licence_assignment", [data.period]).fetchall()
        return {str(r[0]) for r in rows}
    return set(data.org.members(kind))  # type: ignore[arg-type]


def _granularity(step: Step, scope: Scope) -> str:
    chosen = scope.pool(step.id).granularity
    return chosen or step.target_kind


def check(con: duckdb.DuckDBPyConnection, rs: RuleSet, scope: Scope, data: PoolData) -> list[Coverage]:
    """One row per step of the (scoped) rule set `rs`, for the month `data` holds."""
    out: list[Coverage] = []
    for step in rs.steps:
        if step.id == OVERHEAD_STEP:
            continue
        p = scope.pool(step.id)
        g = _granularity(step, scope)
        m = step.method
        label = GRANULARITY_LABELS.get(g, g)
        if m.kind == "direct":
            rows = data.direct.get(step.id, [])
            total = sum((abs(a) for _, _, a in rows), Decimal(0))
            resolved = sum((abs(a) for _, t, a in rows if t is not None), Decimal(0))
            pct = (resolved * 100 / total).quantize(Decimal("0.1")) if total else None
            flagged = pct is not None and pct < p.min_coverage_pct
            msg = (f"{pct} % of the pool's cost has a known owner" if pct is not None else "no cost this month")
            if flagged:
                msg += f", below {p.min_coverage_pct:g} %: tag or map the rest before charging {label}"
                if step.unallocated.startswith("step:"):
                    msg += f" (until then the rest is shared by {step.unallocated[len('step:'):]})"
            out.append(Coverage(step.id, step.name, g, "owner resolution", None, None, pct, p.min_coverage_pct,
                                flagged, msg))
            continue
        drivers = [m.driver] if m.kind == "driver" and m.driver else sorted(m.weights or {}) \
            if m.kind == "weighted" else []
        if not drivers:
            out.append(Coverage(step.id, step.name, g, "", None, None, None, p.min_coverage_pct, False,
                                f"{m.kind}: needs no metering"))
            continue
        population = _population(con, data, g)
        worst: tuple[int, str] | None = None
        for d in drivers:
            qty = data.drivers.get((d, g), {})
            n = sum(1 for t in population if qty.get(t, Decimal(0)) > 0)
            if worst is None or n < worst[0]:
                worst = (n, d)
        assert worst is not None
        n, d = worst
        pct = (Decimal(n) * 100 / len(population)).quantize(Decimal("0.1")) if population else Decimal(0)
        flagged = pct < p.min_coverage_pct
        msg = f"{d} covers {n} of {len(population)} {PLURAL.get(g, g)} ({pct} %)"
        if flagged:
            loaded = sorted(k for (dd, k) in data.drivers if dd == d)
            where = f"; it is loaded {', '.join(GRANULARITY_LABELS.get(k, k) for k in loaded)}" if loaded else \
                "; it is not loaded this month"
            msg += (f", below {p.min_coverage_pct:g} %: the data cannot support charging {label}{where}. Load more "
                    "metering or choose a coarser granularity or another basis.")
        out.append(Coverage(step.id, step.name, g, ", ".join(drivers), n, len(population), pct, p.min_coverage_pct,
                            flagged, msg))
    return out
