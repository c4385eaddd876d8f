"""Per source: how fresh it is against its target, when it runs next, what its polling costs, and a recommendation.

Worst-case staleness of a polled source is its interval plus a run's time, so an interval meets a freshness target
when it is at most the target minus the typical run. Cost is calls per run (median of recent successful runs, else
an estimate of one call) × runs per day; an API's own limit (`api_limit_per_day` option) caps what is sensible.
Cadence floors per kind: inventories change by the day (hourly is the most that buys anything), OpenCost
aggregates by the hour, a drop folder costs no API call and is looked at every few minutes.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import duckdb
import polars as pl

from engine.sources.config import Source, list_sources
from engine.sources.runner import next_run_at

FLOOR_MINUTES = {"snipeit": 60, "jamf": 60, "servicenow": 60, "opencost": 60, "folder": 5}
WHY = {"snipeit": "an asset register changes by the day", "jamf": "Jamf inventory updates at check-in (daily)",
       "servicenow": "the CMDB changes by the day", "opencost": "OpenCost aggregates usage by the hour",
       "folder": "cost exports arrive when the provider drops a file (AWS/Azure: a few times a day); "
                 "watching the folder costs no API calls"}
State = Literal["fresh", "stale", "never"]


@dataclass(frozen=True)
class Freshness:
    source: str
    state: State
    age_minutes: float | None
    target_minutes: int
    next_run_at: datetime | None
    rows_last_run: int
    rows_total: int
    calls_per_run: float
    calls_per_day: float
    rows_per_call: float
    recommended_minutes: int
    recommendation: str


def _runs(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[int, int, float, str]]:
    return [(int(c), int(r), float(s), str(st)) for c, r, s, st in con.execute(
        "SELECT calls, rows_fetched, epoch(finished_at - started_at), status FROM source_run "
        "WHERE source_name = ? ORDER BY finished_at DESC LIMIT 20", [name]).fetchall()]


def recommend(src: Source, calls_per_run: float, run_minutes: float) -> tuple[int, str]:
    floor = FLOOR_MINUTES.get(src.kind, 60)
    target = src.freshness_target_minutes
    best = max(floor, int(target - run_minutes))           # the slowest cadence that still meets the target
    limit = src.option("api_limit_per_day", None)
    if limit and src.mode == "poll" and calls_per_run > 0:
        at_least = int(1440 * calls_per_run / (0.1 * float(limit))) + 1   # stay within 10 % of the API's limit
        best = max(best, at_least)
    best = min(best, 1440) if target >= 1440 else best
    per_day = 0.0 if src.mode == "folder" else 1440 / best * calls_per_run
    why = WHY.get(src.kind, "")
    now = src.interval_minutes
    if best > target:
        verdict = (f"the target of {target} min cannot be met within the floor or the API limit; every {best} min is "
                   "the fastest sensible")
    elif now > target - run_minutes:
        verdict = f"every {now} min misses the {target} min target: run every {best} min ({per_day:.0f} calls/day)"
    elif now < best / 2:
        verdict = (f"every {now} min polls more often than the target needs: every {best} min meets it with "
                   f"{per_day:.0f} calls/day")
    else:
        verdict = f"every {now} min meets the {target} min target"
    return best, f"{verdict}; {why}"


def freshness(con: duckdb.DuckDBPyConnection, src: Source, now: datetime | None = None) -> Freshness:
    at = now or datetime.now(UTC).replace(tzinfo=None)
    runs = _runs(con, src.name)
    good = [r for r in runs if r[3] in ("loaded", "nothing_new")]
    calls = statistics.median([r[0] for r in good]) if good else (0.0 if src.mode == "folder" else 1.0)
    run_minutes = statistics.median([r[2] for r in good]) / 60 if good else 0.0
    rows = sum(r[1] for r in good)
    total_calls = sum(r[0] for r in good)
    rows_total = int(con.execute("SELECT coalesce(sum(rows_loaded), 0) FROM source_run WHERE source_name = ?",
                                 [src.name]).fetchall()[0][0])
    age = None if src.last_success_at is None else (at - src.last_success_at).total_seconds() / 60
    state: State = "never" if age is None else ("fresh" if age <= src.freshness_target_minutes else "stale")
    best, text = recommend(src, float(calls), run_minutes)
    return Freshness(src.name, state, age, src.freshness_target_minutes, next_run_at(src),
                     runs[0][1] if runs else 0, rows_total, float(calls),
                     0.0 if src.mode == "folder" else 1440 / src.interval_minutes * float(calls),
                     rows / total_calls if total_calls else 0.0, best, text)


def overview(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> pl.DataFrame:
    """One row per source for the page (times naive UTC)."""
    rows = []
    for s in list_sources(con):
        f = freshness(con, s, now)
        rows.append({"source": s.name, "kind": s.kind, "mode": s.mode, "paused": s.paused,
                     "last_success": s.last_success_at, "freshness": f.state,
                     "age_minutes": None if f.age_minutes is None else round(f.age_minutes, 1),
                     "target_minutes": f.target_minutes, "rows_last_run": f.rows_last_run, "rows_total": f.rows_total,
                     "next_run": f.next_run_at, "every_minutes": s.interval_minutes,
                     "calls_per_day": round(f.calls_per_day, 1), "rows_per_call": round(f.rows_per_call, 1),
                     "recommended_minutes": f.recommended_minutes, "recommendation": f.recommendation,
                     "last_error": s.last_error})
    return pl.DataFrame(rows, schema={
        "source": pl.String, "kind": pl.String, "mode": pl.String, "paused": pl.Boolean, "last_success": pl.Datetime,
        "freshness": pl.String, "age_minutes": pl.Float64, "target_minutes": pl.Int64, "rows_last_run": pl.Int64,
        "rows_total": pl.Int64, "next_run": pl.Datetime, "every_minutes": pl.Int64, "calls_per_day": pl.Float64,
        "rows_per_call": pl.Float64, "recommended_minutes": pl.Int64, "recommendation": pl.String,
        "last_error": pl.String})


def runs(con: duckdb.DuckDBPyConnection, name: str | None = None, limit: int = 50) -> pl.DataFrame:
    where, params = ("WHERE source_name = ?", [name]) if name else ("", [])
    out: pl.DataFrame = con.sql(
        "SELECT source_name AS source, started_at, status, trigger, run_by, calls, retries, rows_fetched, "
        f"rows_loaded, rows_quarantined, cursor_after, message FROM source_run {where} "
        f"ORDER BY started_at DESC LIMIT {int(limit)}", params=params).pl()
    return out


def inputs_caption(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> str | None:
    """One line a dashboard can show about how fresh its inputs are; None when no source is configured."""
    parts = []
    for s in list_sources(con):
        f = freshness(con, s, now)
        age = "never loaded" if f.age_minutes is None else f"{f.age_minutes:.0f} min old"
        parts.append(f"{s.name} {age} ({f.state}, target {f.target_minutes} min)")
    return ("Inputs: " + "; ".join(parts)) if parts else None
