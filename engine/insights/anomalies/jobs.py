"""Detection inside the jobs: nobody has to remember a separate step.

- After a billing file is loaded (engine/ingest/pipeline.py): the daily detector over the days the batch's lines
  cover (at most the last 366 of them), every scope level. A new flag shows on the pages' next poll.
- After a month is posted (engine/allocation/runs.py): the allocation-change rule (allocation_change.py), the budget
  thresholds (engine/governance/budgets.py) and the
  month-over-month rule for that month, which is complete once it is closed.
- At the end of the demo build (data/demo_close.py): the month-over-month rule for every demo month.

None of these ever fails the job it follows: a detection error comes back as a warning (ingest) or is written to
the audit trail as `anomaly.detect_failed` (month close), and the job's own result stands.
"""

from __future__ import annotations

import logging
from typing import Protocol

import duckdb

from engine.insights.anomalies.monthly import MONTH_HISTORY
from engine.insights.anomalies.workflow import (
    DetectResult,
    detect,
    detect_allocation,
    detect_budgets,
    detect_months,
)
from engine.store import audit

log = logging.getLogger(__name__)


class LoadedBatch(Protocol):
    """What the ingest hook reads and writes of an IngestResult."""

    @property
    def status(self) -> str: ...

    @property
    def batch_id(self) -> str | None: ...

    @property
    def target_table(self) -> str | None: ...

    @property
    def messages(self) -> list[str]: ...

    @property
    def warnings(self) -> list[str]: ...


def _describe(result: DetectResult) -> str:
    made = len(result.created)
    return (f"anomaly detection: {made} new anomal{'y' if made == 1 else 'ies'}"
            + (f", {len(result.extended)} grown" if result.extended else "")
            + (f", {result.suppressed} flag(s) matched an expected pattern" if result.suppressed else ""))


def detect_after_ingest(con: duckdb.DuckDBPyConnection, result: LoadedBatch, actor: str) -> DetectResult | None:
    """Detect over a freshly loaded billing batch. What it raised is added to the result's messages; a failure to
    its warnings (the file stays loaded). None when there was nothing to judge or detection failed."""
    if result.status != "loaded" or result.target_table != "cost_line" or not result.batch_id:
        return None
    try:
        first, last = con.execute(
            "SELECT CAST(min(charge_period_start) AS DATE), "
            "CAST(max(charge_period_end) - INTERVAL 1 MICROSECOND AS DATE) FROM cost_line WHERE batch_id = ?",
            [result.batch_id]).fetchall()[0]
        if first is None:
            return None
        found = detect(con, first, last, actor, trigger="ingest", context={"batch": result.batch_id})
    except Exception as exc:  # noqa: BLE001 - the file is loaded; detection must never undo or fail that
        log.exception("anomaly detection after ingest of batch %s failed", result.batch_id)
        result.warnings.append(f"anomaly detection did not run for this batch ({type(exc).__name__}: {exc}); "
                               "the file is loaded")
        return None
    if found.created or found.extended:
        result.messages.append(_describe(found))
    return found


def _merge(a: DetectResult, b: DetectResult) -> DetectResult:
    return DetectResult(a.flags + b.flags, a.stored + b.stored, a.refreshed + b.refreshed,
                        a.suppressed + b.suppressed, a.created + b.created, a.extended + b.extended)


def detect_after_close(con: duckdb.DuckDBPyConnection, period: str, actor: str) -> DetectResult | None:
    """For a month just posted: the allocation-change rule (its posted charge per cost centre against the month
    before's run) and the month-over-month rule on spend, which is skipped while the store holds fewer than the
    months of history it needs. A failure is audited as `anomaly.detect_failed`, never raised."""
    try:
        allocated = _merge(detect_allocation(con, period, actor, trigger="close", context={"period": period}),
                           detect_budgets(con, period, actor, trigger="close", context={"period": period}))
        if not _enough_history(con, period):
            return allocated if allocated.changed else None
        return _merge(allocated, detect_months(con, period, period, actor, trigger="close",
                                               context={"period": period}))
    except Exception as exc:  # noqa: BLE001 - the run is posted; detection must never fail the close
        log.exception("anomaly detection after the close of %s failed", period)
        try:
            audit.record(con, actor, "anomaly.detect_failed", "anomaly", None,
                         {"trigger": "close", "period": period, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        except Exception:  # noqa: BLE001 - nothing more can be done here; the log has it
            log.exception("could not audit the failed anomaly detection")
        return None


def _enough_history(con: duckdb.DuckDBPyConnection, period: str) -> bool:
    """More than MONTH_HISTORY months with spend up to `period`. The first and last month bound the count: when
    they span no more than that, no month needs counting (10M lines: 3 ms for the bounds, 28 ms for the count)."""
    lo, hi = con.execute("SELECT min(billing_period), max(billing_period) FROM cost_line WHERE billing_period <= ?",
                         [period]).fetchall()[0]
    if lo is None:
        return False
    span = _month_span(str(lo), str(hi))
    if span is not None and span <= MONTH_HISTORY:
        return False
    months = con.execute("SELECT count(DISTINCT billing_period) FROM cost_line WHERE billing_period <= ?",
                         [period]).fetchall()[0][0]
    return int(months) > MONTH_HISTORY


def _month_span(first: str, last: str) -> int | None:
    """Months from `first` to `last` (YYYY-MM) inclusive; None when either is not a YYYY-MM month."""
    try:
        (y0, m0), (y1, m1) = (map(int, p.split("-")) for p in (first, last))
    except ValueError:
        return None
    return (y1 - y0) * 12 + (m1 - m0) + 1


def detect_periods(con: duckdb.DuckDBPyConnection, periods: list[str], actor: str) -> DetectResult | None:
    """The month-over-month rule over a list of YYYY-MM periods (the demo build: every demo month)."""
    if not periods:
        return None
    ordered = sorted(periods)
    return detect_months(con, ordered[0], ordered[-1], actor, trigger="demo")

