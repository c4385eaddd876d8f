"""The conservation check, kept outside every method: after a run is written, the posted cents of each source
pool are compared with that pool's source total read again from cost_line. Any difference fails the run."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from engine.allocation.rounding import to_cents
from engine.errors import AllocationError, IntegrityError


class ConservationError(AllocationError, IntegrityError):
    """Posted cents differ from source cents for at least one (period, source pool)."""

    def __init__(self, run_key: str, problems: list[tuple[str, int, int]]) -> None:
        self.run_key = run_key
        self.problems = problems
        detail = "; ".join(f"{p}: source {s / 100:.2f}, posted {q / 100:.2f}" for p, s, q in problems[:10])
        super().__init__(f"run {run_key[:12]} breaks conservation in {len(problems)} pool(s): {detail}")


def posted_by_pool(con: duckdb.DuckDBPyConnection, run_key: str) -> dict[str, int]:
    rows = con.sql(
        "SELECT source_pool, sum(posted_amount) FROM allocation_result WHERE run_key = ? GROUP BY 1",
        params=[run_key],
    ).fetchall()
    return {p: int(Decimal(v) * 100) for p, v in rows}


def check(con: duckdb.DuckDBPyConnection, run_key: str, source: dict[str, Decimal]) -> None:
    """Raise ConservationError unless every pool's posted cents equal its source cents (and no pool is extra)."""
    posted = posted_by_pool(con, run_key)
    problems: list[tuple[str, int, int]] = []
    for pool in sorted(set(source) | set(posted)):
        want = to_cents(source.get(pool, Decimal(0)))
        got = posted.get(pool, 0)
        if want != got:
            problems.append((pool, want, got))
    if problems:
        raise ConservationError(run_key, problems)
