"""Tag hygiene across the store: coverage of the tag standard as % of effective cost, per month and provider, and
the untagged or mis-tagged spend behind it by account and service.

`engine.tags.normalise.coverage` answers "how much of this month is compliant"; this module answers "where is the rest".
Every line gets one status, in order: **untagged** (no cost-centre tag: allocation falls back to the account
owner), **mis-tagged** (a cost-centre tag that is not a known cost centre), **incomplete** (another required tag
missing or holding a value the standard does not allow), **compliant**. Compliant lines are exactly those
`tags.coverage` counts as compliant under the same standard.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import duckdb
import polars as pl

from engine.store.sql import frame, lit
from engine.tags import standard as tag_standard
from engine.tags.normalise import TagStandard

PRIMARY = "cost_center"
STATUSES = ("untagged", "mis-tagged", "incomplete", "compliant")
GroupBy = Literal["account", "service", "account_service"]
GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "account": ("provider", "sub_account_id", "sub_account_name"),
    "service": ("provider", "service_name"),
    "account_service": ("provider", "sub_account_id", "sub_account_name", "service_name"),
}



def standard_for(con: duckdb.DuckDBPyConnection, base: TagStandard | None = None) -> TagStandard:
    """The standard in force (engine/tags/standard.py), with the cost-centre tag restricted to the organisation's cost
    centres (when known and the standard does not list its own values)."""
    std = base or tag_standard.current(con)
    centres = tuple(r[0] for r in con.sql("SELECT unit_id FROM org_unit WHERE kind = 'cost_center' ORDER BY 1")
                    .fetchall())
    if not centres or PRIMARY in std.allowed:
        return std
    return replace(std, allowed={**std.allowed, PRIMARY: centres})


def describe(std: TagStandard) -> str:
    """The standard in one sentence, for the page."""
    parts = [f"Required tags: {', '.join(std.required) or 'none'}"]
    for k, values in std.allowed.items():
        if k == PRIMARY and values:
            parts.append(f"{k} must be one of the {len(values)} known cost centres")
        elif values:
            parts.append(f"{k} one of {', '.join(values)}")
    return "; ".join(parts) + "."


def _has(key: str) -> str:
    return f"coalesce(trim(tags[{lit(key)}]), '') <> ''"


def _allowed(key: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(lit(v.lower()) for v in values)
    return f"(coalesce(trim(tags[{lit(key)}]), '') = '' OR lower(trim(tags[{lit(key)}])) IN ({listed}))"


def status_sql(std: TagStandard) -> str:
    """CASE expression giving each cost line its hygiene status under `std`."""
    primary = PRIMARY if PRIMARY in std.required else (std.required[0] if std.required else None)
    ok = [_has(k) for k in std.required] + [_allowed(k, v) for k, v in std.allowed.items() if v]
    branches = []
    if primary:
        branches.append(f"WHEN NOT {_has(primary)} THEN 'untagged'")
        if std.allowed.get(primary):
            branches.append(f"WHEN NOT {_allowed(primary, std.allowed[primary])} THEN 'mis-tagged'")
    branches.append(f"WHEN NOT ({' AND '.join(ok) or 'TRUE'}) THEN 'incomplete'")
    return f"CASE {' '.join(branches)} ELSE 'compliant' END"


def periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.sql("SELECT DISTINCT billing_period FROM cost_line ORDER BY 1").fetchall()]


def _pct_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        *[pl.when(pl.col("total") != 0).then(100.0 * pl.col(s.replace("-", "_")) / pl.col("total")).otherwise(0.0)
          .alias(f"{s.replace('-', '_')}_pct") for s in STATUSES])


def by_period_provider(con: duckdb.DuckDBPyConnection, std: TagStandard) -> pl.DataFrame:
    """One row per billing period and provider: effective cost in total and per status, and each as % of total."""
    sums = ", ".join(f"coalesce(sum(effective_cost) FILTER (WHERE status = {lit(s)}), 0)::DOUBLE "
                     f"AS {s.replace('-', '_')}" for s in STATUSES)
    frame = con.sql(f"""
        WITH l AS (SELECT billing_period AS period, provider, effective_cost, {status_sql(std)} AS status
                   FROM cost_line)
        SELECT period, provider, coalesce(sum(effective_cost), 0)::DOUBLE AS total, {sums}
        FROM l GROUP BY ALL ORDER BY period, provider""").pl()
    return _pct_columns(frame)


def by_period(frame: pl.DataFrame) -> pl.DataFrame:
    """All providers together, from `by_period_provider`'s rows."""
    cols = ["total", *[s.replace("-", "_") for s in STATUSES]]
    out = frame.group_by("period").agg(*[pl.col(c).sum() for c in cols]).sort("period")
    return _pct_columns(out)


def coverage_trend(frame: pl.DataFrame) -> pl.DataFrame:
    """Compliant % per period and provider plus an 'All providers' series, for one line chart."""
    per = frame.select("period", "provider", pl.col("compliant_pct").alias("coverage_pct"))
    total = by_period(frame).select("period", pl.lit("All providers").alias("provider"),
                                    pl.col("compliant_pct").alias("coverage_pct"))
    return pl.concat([total, per]).sort("period", "provider")


def offenders(con: duckdb.DuckDBPyConnection, std: TagStandard, period: str, by: GroupBy = "account_service",
              statuses: tuple[str, ...] = ("untagged", "mis-tagged"), limit: int | None = 25) -> pl.DataFrame:
    """Where untagged and mis-tagged spend sits in one period, biggest first, with the offending cost-centre values
    (what someone typed) so the owner of the account knows what to fix."""
    group = ", ".join(GROUP_COLUMNS[by])
    marks = ", ".join("?" for _ in statuses)
    limit_sql = f"LIMIT {int(limit)}" if limit else ""
    return frame(con.sql(f"""
        WITH l AS (SELECT *, {status_sql(std)} AS status FROM cost_line WHERE billing_period = ?)
        SELECT {group}, status, sum(effective_cost)::DOUBLE AS effective_cost, count(*) AS lines,
               count(DISTINCT resource_id) AS resources,
               string_agg(DISTINCT tags[{lit(PRIMARY)}], ', ' ORDER BY tags[{lit(PRIMARY)}])
                   FILTER (WHERE status = 'mis-tagged') AS tag_values
        FROM l WHERE status IN ({marks})
        GROUP BY ALL ORDER BY effective_cost DESC, {group}, status {limit_sql}""",
                   params=[period, *statuses]))
