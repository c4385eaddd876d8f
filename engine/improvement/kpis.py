"""Adoption and dispute KPIs, per period (and business unit for disputes), read from the store.

- dispute rate   = amount disputed ÷ amount charged to the cost centres (latest posted run of the month) × 100;
  disputes are counted in the month of the statement they dispute.
- time to resolve = decided_at − raised_at in days (fractional), mean and max over decided disputes.
- statements opened = cost centres with an owner (an app owner scoped to it) of which at least one owner opened
  the month's statement ÷ cost centres with an owner × 100 (the first view per owner, month and cost centre is
  recorded and audited; later views change nothing).
- anomaly tickets raised / closed = incidents of the month with a ticket / those of them resolved.
- tag coverage = the tag standard's compliant share of effective cost per month (engine/tags/hygiene.py).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from engine.access.scope import cost_center_filter, ensure_can_see
from engine.access.users import User
from engine.allocation import adjustments
from engine.store import audit, transaction
from engine.store.sql import query
from engine.tags import hygiene

LATEST_RUNS = ("SELECT period, run_key FROM (SELECT period, run_key, row_number() OVER (PARTITION BY period"
               " ORDER BY finished_at DESC, run_key) AS rn FROM allocation_run WHERE status = 'posted') WHERE rn = 1")


def dispute_metrics(con: duckdb.DuckDBPyConnection, user: User | None) -> pl.DataFrame:
    """Per (period, business_unit_id): charged, disputes, open, accepted, rejected, amount_disputed,
    amount_accepted, dispute_rate_pct, mean_days_to_resolve, max_days_to_resolve. Scoped for app owners."""
    pred_r, params_r = cost_center_filter(user, "r.cost_center_id")
    pred_d, params_d = cost_center_filter(user, "d.cost_center_id")
    sql = f"""
        WITH latest AS ({LATEST_RUNS}),
        charged AS (
            SELECT r.period, o.parent_id AS business_unit_id, sum(r.posted_amount) AS charged
            FROM allocation_result r JOIN latest l ON l.run_key = r.run_key
            JOIN org_unit o ON o.unit_id = r.cost_center_id
            WHERE NOT starts_with(r.source_pool, ?) AND {pred_r} GROUP BY ALL),
        d AS (
            SELECT d.period, o.parent_id AS business_unit_id, d.status, d.amount,
                   CASE WHEN d.decided_at IS NOT NULL
                        THEN epoch(d.decided_at - d.raised_at) / 86400.0 END AS days
            FROM dispute d JOIN org_unit o ON o.unit_id = d.cost_center_id
            WHERE d.period IS NOT NULL AND {pred_d}),
        agg AS (
            SELECT period, business_unit_id, count(*) AS disputes,
                   count(*) FILTER (WHERE status = 'open') AS open,
                   count(*) FILTER (WHERE status = 'accepted') AS accepted,
                   count(*) FILTER (WHERE status = 'rejected') AS rejected,
                   sum(amount) AS amount_disputed,
                   coalesce(sum(amount) FILTER (WHERE status = 'accepted'), 0) AS amount_accepted,
                   avg(days) AS mean_days_to_resolve, max(days) AS max_days_to_resolve
            FROM d GROUP BY ALL)
        SELECT coalesce(a.period, c.period) AS period, coalesce(a.business_unit_id, c.business_unit_id)
               AS business_unit_id, coalesce(c.charged, 0)::DECIMAL(18, 2) AS charged,
               coalesce(a.disputes, 0) AS disputes, coalesce(a.open, 0) AS open,
               coalesce(a.accepted, 0) AS accepted, coalesce(a.rejected, 0) AS rejected,
               coalesce(a.amount_disputed, 0)::DECIMAL(18, 2) AS amount_disputed,
               coalesce(a.amount_accepted, 0)::DECIMAL(18, 2) AS amount_accepted,
               CASE WHEN coalesce(c.charged, 0) > 0
                    THEN 100.0 * coalesce(a.amount_disputed, 0)::DOUBLE / c.charged::DOUBLE END AS dispute_rate_pct,
               a.mean_days_to_resolve, a.max_days_to_resolve
        FROM agg a FULL JOIN charged c ON c.period = a.period AND c.business_unit_id = a.business_unit_id
        ORDER BY 1, 2"""
    return query(con, sql, [adjustments.POOL_PREFIX, *params_r, *params_d])


def dispute_totals(metrics: pl.DataFrame) -> pl.DataFrame:
    """The per-business-unit metrics summed to one row per period (rate and days re-derived, not averaged)."""
    if metrics.is_empty():
        return metrics.drop("business_unit_id")
    return metrics.group_by("period").agg(
        pl.col("charged").sum(), pl.col("disputes").sum(), pl.col("open").sum(), pl.col("accepted").sum(),
        pl.col("rejected").sum(), pl.col("amount_disputed").sum(), pl.col("amount_accepted").sum(),
        ((pl.col("mean_days_to_resolve") * (pl.col("accepted") + pl.col("rejected"))).sum()
         / (pl.col("accepted") + pl.col("rejected")).sum()).alias("mean_days_to_resolve"),
        pl.col("max_days_to_resolve").max(),
    ).with_columns(pl.when(pl.col("charged") > 0).then(
        100.0 * pl.col("amount_disputed").cast(pl.Float64) / pl.col("charged").cast(pl.Float64))
        .alias("dispute_rate_pct")).sort("period")


def record_view(con: duckdb.DuckDBPyConnection, user: User, period: str, cost_center_id: str, *,
                now: datetime | None = None) -> bool:
    """Note that `user` opened the cost centre's statement for `period`; True the first time (audited)."""
    ensure_can_see(user, cost_center_id)
    key = [user.username, cost_center_id, period]
    seen = "SELECT 1 FROM statement_view WHERE username = ? AND cost_center_id = ? AND period = ?"
    if con.execute(seen, key).fetchall():
        return False
    with transaction(con):   # writers take turns: another tab of the same owner may have recorded it meanwhile
        if con.execute(seen, key).fetchall():
            return False
        con.execute("INSERT INTO statement_view VALUES (?, ?, ?, ?)",
                    [user.username, cost_center_id, period, now or audit.now()])
        audit.record(con, user.username, "statement.view", "statement", f"{cost_center_id}@{period}", {})
    return True


def statements_opened(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per period with a posted run: owned cost centres, those whose owner opened the statement, and the share."""
    return query(con, f"""
        WITH owned AS (SELECT DISTINCT s.cost_center_id, s.username FROM user_scope s
                       JOIN app_user u ON u.username = s.username
                       WHERE u.role = 'app_owner' AND u.disabled_at IS NULL),
        p AS (SELECT period FROM ({LATEST_RUNS})),
        grid AS (SELECT p.period, o.cost_center_id, bool_or(v.username IS NOT NULL) AS opened
                 FROM p CROSS JOIN owned o LEFT JOIN statement_view v
                   ON v.period = p.period AND v.cost_center_id = o.cost_center_id AND v.username = o.username
                 GROUP BY ALL)
        SELECT period, count(*) AS owned, count(*) FILTER (WHERE opened) AS opened,
               100.0 * count(*) FILTER (WHERE opened) / count(*) AS opened_pct
        FROM grid GROUP BY 1 ORDER BY 1""")


def anomaly_tickets(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per anomaly period: incidents, tickets raised from them, and of those the ones closed (resolved)."""
    return query(con, """
        SELECT period, count(*) AS incidents, count(*) FILTER (WHERE ticket_id IS NOT NULL) AS tickets_raised,
               count(*) FILTER (WHERE ticket_id IS NOT NULL AND status = 'resolved') AS tickets_closed
        FROM anomaly WHERE period IS NOT NULL GROUP BY 1 ORDER BY 1""")


def tag_coverage(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Compliant share of effective cost per month under the tag standard in force."""
    frame = hygiene.by_period_provider(con, hygiene.standard_for(con))
    if frame.is_empty():
        return pl.DataFrame(schema={"period": pl.String(), "coverage_pct": pl.Float64()})
    return hygiene.by_period(frame).select("period", pl.col("compliant_pct").alias("coverage_pct"))


def adoption(con: duckdb.DuckDBPyConnection, user: User | None) -> pl.DataFrame:
    """One row per period: dispute rate, statements opened %, tickets raised / closed, tag coverage %."""
    disputes = dispute_totals(dispute_metrics(con, user)).select("period", "disputes", "dispute_rate_pct")
    frames = [disputes, statements_opened(con).select("period", "opened_pct"),
              anomaly_tickets(con).select("period", "tickets_raised", "tickets_closed"), tag_coverage(con)]
    out = frames[0]
    for f in frames[1:]:
        out = out.join(f, on="period", how="full", coalesce=True)
    return out.sort("period")
