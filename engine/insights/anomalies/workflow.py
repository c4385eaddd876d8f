"""The anomaly workflow: detector flags persisted as incidents, triaged by people, audited at every step.

Persistence (`persist`, and `detect` / `detect_months` which scan and persist):

- A flag is one (scope kind, scope id, rule, date) as `scan` / `scan_months` report it. Its key is the primary key
  of `anomaly_flag`, so detecting again over the same data stores nothing twice: a known flag keeps its incident
  (its amounts are refreshed when a re-delivered bill changed them), a new one is added.
- An **incident** (an `anomaly` row) is a run of consecutive flags of one scope and rule: days for the daily rules,
  months for the monthly rule; a new-entity flag is an incident of its own. A new flag joins the still-active
  incident of its scope and rule that ends the day (month) before it or starts the day (month) after it; otherwise
  it opens a new incident (`A-<n>`). An incident someone has already resolved or dismissed is not reopened by a
  flag after it: that flag starts a new incident. The incident carries first/last date, flagged days, summed
  actual, expected and excess, and the highest score.
- Its cost centre is the one cost centre every line of the scope in the detection window is attributed to (the
  attribution chain of the dashboards); a scope spanning several cost centres, or with unattributed lines, has none.
  App owners see and triage only incidents whose cost centre is theirs; scoping is part of the SQL
  (`engine.access.scope.cost_center_filter`). A service or account flag that mixes cost centres is therefore seen by
  FinOps, admins, executives and auditors only.
- Expected patterns (`anomaly_pattern`, recorded when an incident is marked a false positive with a pattern) drop
  matching flags before they are stored: same scope kind, scope and rule, and the weekday or day of the month when
  the pattern names one. Each detection run that stores or suppresses anything writes one audit event
  (`anomaly.detect`) with what it did.

Triage (`transition`, `open_ticket_for`): open → acknowledged → ticketed → resolved / false_positive; open and
acknowledged may also go straight to resolved or false_positive. Every transition needs `triage_anomalies` in
engine/access/policy.py and, for an app owner, the incident's cost centre in their scope (AccessDenied otherwise);
each is audited (`anomaly.<status>`, with from/to, owner and comment) in the transaction that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from engine.access import grants, policy
from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.errors import AccessDenied, InputError, NotFound
from engine.governance import budgets as business_budgets
from engine.governance import exceptions as business_exceptions
from engine.governance.budgets import RULE as BUDGET
from engine.insights.anomalies import thresholds
from engine.insights.anomalies.allocation_change import ALLOCATION_CHANGE, scan_allocation
from engine.insights.anomalies.allocation_change import RULE as ALLOCATED
from engine.insights.anomalies.detectors import DEFAULT_PARAMS, DetectorParams
from engine.insights.anomalies.monthly import RULE as MONTHLY
from engine.insights.anomalies.monthly import add_months, month_end, month_start, scan_months
from engine.insights.anomalies.scan import _SCOPE_SQL, LEVELS, MAX_WINDOW_DAYS, SCHEMA, scan
from engine.insights.attribution import LINE_OWNER, LINE_OWNER_JOINS, UNATTRIBUTED
from engine.store import audit, transaction
from engine.store.sql import lit, q, query

if TYPE_CHECKING:
    from engine.outputs.tickets import RetryPolicy, Ticket

STATUSES = ("open", "acknowledged", "ticketed", "resolved", "false_positive")
ACTIVE = ("open", "acknowledged", "ticketed")
CLOSED = ("resolved", "false_positive")
NEXT: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "resolved", "false_positive"),
    "acknowledged": ("resolved", "false_positive"),
    "ticketed": ("resolved", "false_positive"),
    "resolved": (),
    "false_positive": (),
}
PATTERNS = ("any_day", "weekday", "day_of_month")   # what a false positive may ask to suppress from now on
KIND_TITLES = {"cost_center": "Cost centre", "application": "Application", "service": "Service",
               "account": "Account", "resource": "Resource"}
RULE_TITLES = {"seasonal": "Daily, vs same weekday", "week_over_week": "Daily, vs last week",
               "new_entity": "New", MONTHLY: "Month over month", ALLOCATED: "Allocated charge, month over month",
               BUDGET: "Budget threshold crossed"}
MONTH_RULES = (MONTHLY, ALLOCATED, BUDGET)   # rules whose flags are months (dated the month's first day)
METRIC = "effective_cost"
SYSTEM = User("system", "Anomaly detector", "admin", None)  # the jobs read every cost centre; readers are scoped
COMMENT_MAX = 2_000
AUDIT_IDS_MAX = 50

# The share of a line [s, e) inside a window (two `?`: the window's end, then its start): lines spanning several days
# count by their overlap.
OVERLAP = ("greatest(0, epoch(least(e, CAST(? AS TIMESTAMP))) - epoch(greatest(s, CAST(? AS TIMESTAMP)))) "
           "/ nullif(epoch(e) - epoch(s), 0)")

_FLAG_COLS = ["scope_kind", "scope_id", "rule", "date", "actual", "expected", "excess", "score"]


def now_utc() -> datetime:
    """Naive UTC, as the ticket tables write their timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class DetectResult:
    """What one detection run did."""

    flags: int = 0                 # flags the detector reported
    stored: int = 0                # flags not stored before
    refreshed: int = 0             # known flags whose amounts changed
    suppressed: int = 0            # flags dropped by an expected pattern
    created: list[str] = field(default_factory=list)    # incidents opened
    extended: list[str] = field(default_factory=list)   # existing incidents that grew or changed

    @property
    def changed(self) -> bool:
        return bool(self.stored or self.refreshed or self.suppressed)


@dataclass(frozen=True)
class Anomaly:
    anomaly_id: str
    period: str
    scope_kind: str
    scope_id: str
    scope_name: str
    rule: str
    first_date: date
    last_date: date
    flagged_days: int
    actual: Decimal
    expected: Decimal
    excess: Decimal
    score: float | None
    status: str
    cost_center_id: str | None
    cost_center: str | None
    owner: str | None
    comment: str | None
    ticket_id: str | None
    ticket_ref: str | None
    ticket_url: str | None
    detected_at: datetime
    updated_at: datetime | None
    updated_by: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def span_text(rule: str, first: date, last: date) -> str:
    """The days (months, for the monthly rule) of an incident, for people: 2026-06, 2026-03-10 to 2026-03-11."""
    if rule in MONTH_RULES:
        a, b = first.strftime("%Y-%m"), last.strftime("%Y-%m")
    else:
        a, b = first.isoformat(), last.isoformat()
    return a if a == b else f"{a} to {b}"


# -- persistence --------------------------------------------------------------------------------------------------

def _step(rule: str) -> str:
    return "month" if rule in MONTH_RULES else "day"


def _adjacent(rule: str, d: date, n: int) -> date | None:
    if rule == "new_entity":
        return None
    return add_months(d, n) if _step(rule) == "month" else d + timedelta(days=n)


def _cost_centers(con: duckdb.DuckDBPyConnection, levels: list[str], start: date, end: date) -> dict[tuple[str, str],
                                                                                                      str | None]:
    """(scope kind, scope id) → the one cost centre all its lines in `start`..`end` are attributed to, else None.
    Uses the scan's own scope expressions (`_SCOPE_SQL`), so these are exactly the lines the flags summed."""
    if not levels:
        return {}
    kind = " ".join(f"WHEN grouping({q(lv)}) = 0 THEN {lit(lv)}" for lv in levels)
    scope_id = " ".join(f"WHEN grouping({q(lv)}) = 0 THEN {q(lv)}" for lv in levels)
    columns = ", ".join(f"{_SCOPE_SQL[lv]} AS {q(lv)}" for lv in levels)
    sets = ", ".join(f"({q(lv)})" for lv in levels)
    sql = f"""
        WITH lines AS (
            SELECT {LINE_OWNER}, l.service_name,
                   coalesce(l.sub_account_id, l.billing_account_id) AS account_id, l.resource_id
            FROM cost_line l
            {LINE_OWNER_JOINS}
            WHERE l.charge_period_start < ? AND l.charge_period_end > ?
        ), keyed AS (SELECT cost_center_id, {columns} FROM lines)
        SELECT * FROM (
            SELECT CASE {kind} END AS scope_kind, CASE {scope_id} END AS scope_id,
                   count(DISTINCT cost_center_id) AS n, bool_or(cost_center_id IS NULL) AS some_null,
                   min(cost_center_id) AS cc
            FROM keyed GROUP BY GROUPING SETS ({sets})
        ) WHERE scope_id IS NOT NULL
    """
    rows = con.execute(sql, [end + timedelta(days=1), start]).fetchall()
    return {(k, s): (cc if n == 1 and not some_null else None) for k, s, n, some_null, cc in rows}


def _patterns(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(con, "SELECT pattern_id, scope_kind, scope_id, rule, weekday, day_of_month FROM anomaly_pattern "
                      "WHERE active")


def _suppress(flags: pl.DataFrame, patterns: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept flags, suppressed flags with the matching pattern id)."""
    if patterns.is_empty() or flags.is_empty():
        return flags, flags.head(0).with_columns(pattern_id=pl.lit(None, pl.Utf8))
    keyed = flags.with_row_index("_i")
    hits = keyed.join(patterns, on=["scope_kind", "scope_id", "rule"], how="inner").filter(
        (pl.col("weekday").is_null() | (pl.col("weekday") == pl.col("date").dt.weekday() - 1))
        & (pl.col("day_of_month").is_null() | (pl.col("day_of_month") == pl.col("date").dt.day()))
    ).group_by("_i").agg(pl.col("pattern_id").min())
    suppressed = keyed.join(hits, on="_i", how="inner").drop("_i")
    kept = keyed.join(hits, on="_i", how="anti").drop("_i")
    return kept, suppressed


def _runs(rule: str, dates: list[date]) -> list[list[date]]:
    """Consecutive dates (days, or months for the monthly rule) as runs; every new-entity flag is a run of its own."""
    runs: list[list[date]] = []
    for d in sorted(dates):
        if runs and _adjacent(rule, runs[-1][-1], 1) == d:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def persist(con: duckdb.DuckDBPyConnection, flags: pl.DataFrame, actor: str, *, window: tuple[date, date],
            trigger: str = "manual", context: dict[str, Any] | None = None) -> DetectResult:
    """Store the flags of one detection run (the frame `scan` / `scan_months` return) as incidents.

    `window` is the span the detector judged (first and last day); the incidents' cost centres are read over it.
    Idempotent: the same flags again store nothing. One audit event (`anomaly.detect`) when anything changed."""
    missing = [c for c in _FLAG_COLS if c not in flags.columns]
    if missing:
        raise InputError(f"anomaly flags: missing column(s) {', '.join(missing)}")
    flags = flags.select(_FLAG_COLS).cast({c: SCHEMA[c] for c in _FLAG_COLS})
    if flags.is_empty():
        return DetectResult()
    flags = business_exceptions.drop_excluded(con, flags)   # approved, time-boxed exclusions (a planned spike)
    kept, suppressed = _suppress(flags, _patterns(con))
    now = now_utc()
    centres = _cost_centers(con, sorted(set(kept["scope_kind"].to_list())), *window) if not kept.is_empty() else {}
    for sid in kept.filter(pl.col("rule").is_in([ALLOCATED, BUDGET]))["scope_id"].to_list():
        centres[("cost_center", sid)] = sid   # an allocated charge belongs to the cost centre charged
    with transaction(con):
        joined = _with_known(con, kept)
        known = joined.filter(pl.col("anomaly_id").is_not_null())
        changed = known.filter((pl.col("actual") != pl.col("old_actual"))
                               | (pl.col("expected") != pl.col("old_expected"))
                               | (pl.col("score").fill_null(-1.0) != pl.col("old_score").fill_null(-1.0)))
        if not changed.is_empty():
            _bulk(con, changed.select(_FLAG_COLS), """
                UPDATE anomaly_flag f SET actual = n.actual, expected = n.expected, excess = n.excess,
                    score = n.score
                FROM {rel} n WHERE f.scope_kind = n.scope_kind AND f.scope_id = n.scope_id AND f.rule = n.rule
                    AND f.date = n.date""")
        touched: set[str] = set(changed["anomaly_id"].to_list())
        fresh = joined.filter(pl.col("anomaly_id").is_null()).sort("date", "scope_kind", "scope_id", "rule")
        created, new_rows, lost_centre = _assign(con, fresh, centres, touched)
        if created:
            ids = [f"A-{int(r[0])}" for r in con.execute(
                "SELECT nextval('anomaly_seq') FROM range(?)", [len(created)]).fetchall()]
            named = dict(zip([c["key"] for c in created], ids, strict=True))
            for row in new_rows:
                row["anomaly_id"] = named.get(row["anomaly_id"], row["anomaly_id"])
            _bulk(con, pl.DataFrame([{
                "anomaly_id": named[c["key"]], "period": c["first"].strftime("%Y-%m"), "scope_kind": c["scope_kind"],
                "scope_id": c["scope_id"], "metric": METRIC, "status": "open", "rule": c["rule"],
                "first_date": c["first"], "last_date": c["first"], "cost_center_id": c["cc"], "detected_at": now,
                "updated_at": now, "updated_by": actor} for c in created], schema=_ANOMALY_SCHEMA),
                "INSERT INTO anomaly BY NAME SELECT * FROM {rel}")
        if new_rows:
            _bulk(con, pl.DataFrame(new_rows, schema=_ROW_SCHEMA).with_columns(detected_at=pl.lit(now)),
                  "INSERT INTO anomaly_flag BY NAME SELECT * FROM {rel}")
        if lost_centre:
            con.execute("UPDATE anomaly SET cost_center_id = NULL WHERE anomaly_id IN (SELECT unnest(?::VARCHAR[]))",
                        [sorted(lost_centre)])
        created_ids = sorted({r["anomaly_id"] for r in new_rows} - touched, key=_id_order)
        all_ids = sorted(touched | set(created_ids))
        if all_ids:
            _refresh_totals(con, all_ids, now)
        extended = sorted(touched, key=_id_order)
        result = DetectResult(flags.height, len(new_rows), changed.height, suppressed.height, created_ids, extended)
        if result.changed:
            audit.record(con, actor, "anomaly.detect", "anomaly", None, {
                "trigger": trigger, **(context or {}), "window": [str(window[0]), str(window[1])],
                "flags": result.flags, "stored": result.stored, "refreshed": result.refreshed,
                "suppressed": result.suppressed,
                "suppressed_by": sorted(set(suppressed["pattern_id"].to_list())) if suppressed.height else [],
                "created": len(created_ids), "created_ids": created_ids[:AUDIT_IDS_MAX],
                "extended_ids": extended[:AUDIT_IDS_MAX]})
    return result


_ANOMALY_SCHEMA: dict[str, pl.DataType] = {
    "anomaly_id": pl.Utf8(), "period": pl.Utf8(), "scope_kind": pl.Utf8(), "scope_id": pl.Utf8(), "metric": pl.Utf8(),
    "status": pl.Utf8(), "rule": pl.Utf8(), "first_date": pl.Date(), "last_date": pl.Date(),
    "cost_center_id": pl.Utf8(), "detected_at": pl.Datetime("us"), "updated_at": pl.Datetime("us"),
    "updated_by": pl.Utf8()}
_ROW_SCHEMA: dict[str, pl.DataType] = {**{c: SCHEMA[c] for c in _FLAG_COLS}, "anomaly_id": pl.Utf8()}


def _id_order(anomaly_id: str) -> tuple[int, str]:
    digits = anomaly_id.partition("-")[2]
    return (int(digits), anomaly_id) if digits.isdigit() else (0, anomaly_id)


def _bulk(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, sql: str) -> None:
    """Run `sql` with `{rel}` standing for `frame` registered as a relation."""
    name = "_anomaly_frame"
    con.register(name, frame.to_arrow())
    try:
        con.execute(sql.format(rel=name))
    finally:
        con.unregister(name)


def _with_known(con: duckdb.DuckDBPyConnection, flags: pl.DataFrame) -> pl.DataFrame:
    """The flags with the incident each already belongs to (anomaly_id null: not stored yet) and stored amounts."""
    name = "_anomaly_new_flags"
    con.register(name, flags.to_arrow())
    try:
        return query(con, f"SELECT n.*, f.anomaly_id, f.actual AS old_actual, f.expected AS old_expected, "
                          f"f.score AS old_score FROM {name} n LEFT JOIN anomaly_flag f "
                          f"ON f.scope_kind = n.scope_kind AND f.scope_id = n.scope_id AND f.rule = n.rule "
                          f"AND f.date = n.date")
    finally:
        con.unregister(name)


def _assign(con: duckdb.DuckDBPyConnection, fresh: pl.DataFrame, centres: dict[tuple[str, str], str | None],
            touched: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """Give each new flag its incident: runs of consecutive new flags join the active incident of their scope and
    rule they touch (the earliest, if they touch two), else become a new incident. Returns the incidents to create
    (with a placeholder key as their id until ids are drawn), the flag rows (anomaly_id set) and the existing
    incidents whose cost centre no longer holds. Adds the existing incidents that grew to `touched`."""
    if fresh.is_empty():
        return [], [], set()
    series = fresh.select("scope_kind", "scope_id", "rule").unique()
    name = "_anomaly_series"
    con.register(name, series.to_arrow())
    try:
        existing = con.execute(
            f"SELECT a.anomaly_id, a.scope_kind, a.scope_id, a.rule, a.first_date, a.last_date, a.cost_center_id "
            f"FROM anomaly a JOIN {name} s ON s.scope_kind = a.scope_kind AND s.scope_id = a.scope_id "
            f"AND s.rule = a.rule WHERE a.status IN ({', '.join(lit(s) for s in ACTIVE)})").fetchall()
    finally:
        con.unregister(name)
    spans: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for aid, kind, sid, rule, first, last, cc in existing:
        spans.setdefault((kind, sid, rule), []).append({"id": aid, "first": first, "last": last, "cc": cc})
    by_date: dict[tuple[str, str, str], dict[date, dict[str, Any]]] = {}
    for r in fresh.select(_FLAG_COLS).iter_rows(named=True):
        by_date.setdefault((r["scope_kind"], r["scope_id"], r["rule"]), {})[r["date"]] = r
    created: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    lost: set[str] = set()
    for key, flags in by_date.items():
        kind, sid, rule = key
        cc = centres.get((kind, sid))
        for run in _runs(rule, list(flags)):
            first, last = run[0], run[-1]
            before, after = _adjacent(rule, first, -1), _adjacent(rule, last, 1)
            touching = [s for s in spans.get(key, [])
                        if (before is not None and s["last"] == before) or (after is not None and s["first"] == after)
                        or (s["first"] <= last and s["last"] >= first)]
            if touching:
                span = min(touching, key=lambda s: s["first"])
                span["first"], span["last"] = min(span["first"], first), max(span["last"], last)
                if span["cc"] != cc and span["cc"] is not None:
                    span["cc"] = None
                    lost.add(span["id"])
                touched.add(span["id"])
                aid = span["id"]
            else:
                aid = f"new:{len(created)}"
                created.append({"key": aid, "scope_kind": kind, "scope_id": sid, "rule": rule, "first": first,
                                "cc": cc})
                spans.setdefault(key, []).append({"id": aid, "first": first, "last": last, "cc": cc})
            rows += [{**flags[d], "anomaly_id": aid} for d in run]
    return created, rows, lost


def _refresh_totals(con: duckdb.DuckDBPyConnection, ids: list[str], now: datetime) -> None:
    con.execute(
        """
        UPDATE anomaly a SET first_date = t.first_date, last_date = t.last_date, flagged_days = t.n,
            period = strftime(t.first_date, '%Y-%m'), actual_total = t.actual, expected_total = t.expected,
            excess = t.excess, actual = t.actual::DOUBLE, expected = t.expected::DOUBLE, score = t.score,
            updated_at = ?
        FROM (SELECT anomaly_id, min(date) AS first_date, max(date) AS last_date, count(*) AS n,
                     sum(actual)::DECIMAL(18, 2) AS actual, sum(expected)::DECIMAL(18, 2) AS expected,
                     sum(excess)::DECIMAL(18, 2) AS excess, max(score) AS score
              FROM anomaly_flag WHERE anomaly_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY anomaly_id) t
        WHERE a.anomaly_id = t.anomaly_id
        """, [now, ids])


def _window(start: date, end: date) -> tuple[date, date]:
    if end < start:
        raise InputError(f"anomaly detection: the window ends ({end}) before it starts ({start})")
    if (end - start).days + 1 > MAX_WINDOW_DAYS:
        start = end - timedelta(days=MAX_WINDOW_DAYS - 1)   # the most recent year: what a scan may judge at once
    return start, end


def detect(con: duckdb.DuckDBPyConnection, start: date, end: date, actor: str, *, levels: tuple[str, ...] = LEVELS,
           params: DetectorParams = DEFAULT_PARAMS, trigger: str = "manual",
           context: dict[str, Any] | None = None) -> DetectResult:
    """Run the daily detector over `start`..`end` (at most the last 366 days of it) for every cost centre and
    persist what it flags."""
    start, end = _window(start, end)
    loose, _ = thresholds.loosest(con, params)
    flags = thresholds.apply(con, scan(con, SYSTEM, start, end, levels, loose), params)
    return persist(con, flags, actor, window=(start, end), trigger=trigger, context=context)


def detect_allocation(con: duckdb.DuckDBPyConnection, period: str, actor: str, *,
                      threshold: float = ALLOCATION_CHANGE, params: DetectorParams = DEFAULT_PARAMS,
                      trigger: str = "manual", context: dict[str, Any] | None = None) -> DetectResult:
    """Run the allocation-change rule (allocation_change.py) for one posted month and persist what it flags."""
    loose, change = thresholds.loosest(con, params, threshold)
    flags = thresholds.apply(con, scan_allocation(con, period, threshold=change, params=loose), params, threshold)
    first = month_start(period)
    return persist(con, flags, actor, window=(first, month_end(first)), trigger=trigger, context=context)


def detect_budgets(con: duckdb.DuckDBPyConnection, period: str, actor: str, *, trigger: str = "manual",
                   context: dict[str, Any] | None = None) -> DetectResult:
    """Flag the cost centres whose posted charge for `period` crossed a threshold of their budget."""
    flags = business_budgets.crossing_flags(con, period)
    first = month_start(period)
    return persist(con, flags, actor, window=(first, month_end(first)), trigger=trigger, context=context)


def detect_months(con: duckdb.DuckDBPyConnection, first_period: str, last_period: str, actor: str, *,
                  params: DetectorParams = DEFAULT_PARAMS, trigger: str = "manual",
                  context: dict[str, Any] | None = None) -> DetectResult:
    """Run the month-over-month rule for the periods `first_period`..`last_period` and persist what it flags."""
    loose, change = thresholds.loosest(con, params)
    flags = thresholds.apply(con, scan_months(con, SYSTEM, first_period, last_period, params=loose, change=change),
                             params)
    window = (month_start(first_period), month_end(month_start(last_period)))
    return persist(con, flags, actor, window=window, trigger=trigger, context=context)


# -- reading --------------------------------------------------------------------------------------------------------

_SELECT = """
    SELECT a.anomaly_id, a.period, a.scope_kind, a.scope_id,
           CASE a.scope_kind WHEN 'cost_center' THEN coalesce(cc.name, a.scope_id)
                             WHEN 'application' THEN coalesce(ap.name, a.scope_id)
                             ELSE a.scope_id END AS scope_name,
           a.rule, a.first_date, a.last_date, a.flagged_days, a.actual_total AS actual,
           a.expected_total AS expected, a.excess, a.score, a.status, a.cost_center_id,
           owner_cc.name AS cost_center, a.owner, a.comment, a.ticket_id, a.ticket_ref, a.ticket_url,
           a.detected_at, a.updated_at, a.updated_by
    FROM anomaly a
    LEFT JOIN org_unit cc ON a.scope_kind = 'cost_center' AND cc.unit_id = a.scope_id
    LEFT JOIN application ap ON a.scope_kind = 'application' AND ap.app_id = a.scope_id
    LEFT JOIN org_unit owner_cc ON owner_cc.unit_id = a.cost_center_id
    WHERE a.rule IS NOT NULL AND {scope}
"""


def list_anomalies(con: duckdb.DuckDBPyConnection, user: User | None, status: str | tuple[str, ...] | None = None,
                   period: str | None = None, *, scope_kind: str | None = None,
                   limit: int | None = None, exclude_rules: tuple[str, ...] = ()) -> pl.DataFrame:
    """Incidents `user` may see (app owners: their cost centres; None: nothing), largest excess first.

    `status` is one status, a tuple of them, or "active" (open, acknowledged, ticketed); `period` a YYYY-MM that
    the incident overlaps."""
    pred, params = cost_center_filter(user, "a.cost_center_id")
    where = [pred]
    if status is not None:
        wanted = ACTIVE if status == "active" else (status,) if isinstance(status, str) else status
        unknown = [s for s in wanted if s not in STATUSES]
        if unknown:
            raise InputError(f"unknown anomaly status {', '.join(unknown)}; choose from {', '.join(STATUSES)}")
        where.append("a.status IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(wanted))
    if period is not None:
        first = month_start(period)
        where.append("a.first_date <= ? AND a.last_date >= ?")
        params += [month_end(first), first]
    if scope_kind is not None:
        if scope_kind not in LEVELS:
            raise InputError(f"unknown scope kind {scope_kind!r}; choose from {', '.join(LEVELS)}")
        where.append("a.scope_kind = ?")
        params.append(scope_kind)
    if exclude_rules:
        where.append("a.rule NOT IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(exclude_rules))
    sql = _SELECT.format(scope=" AND ".join(where)) + \
        " ORDER BY a.excess DESC NULLS LAST, a.first_date, a.scope_kind, a.scope_id, a.rule"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return query(con, sql, params)


def get_anomaly(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str) -> Anomaly:
    """One incident; NotFound when there is none, AccessDenied when it lies outside `user`'s cost centres."""
    rows = query(con, _SELECT.format(scope="a.anomaly_id = ?"), [anomaly_id]).rows(named=True)
    if not rows:
        raise NotFound(f"no anomaly {anomaly_id!r}")
    a = Anomaly(**rows[0])
    _ensure_visible(user, a)
    return a


def _ensure_visible(user: User | None, a: Anomaly) -> None:
    if user is None:
        raise AccessDenied(f"not signed in: cannot see anomaly {a.anomaly_id}")
    if user.cost_centers is not None and (a.cost_center_id is None or a.cost_center_id not in user.cost_centers):
        raise AccessDenied(f"{user.username} may not see anomaly {a.anomaly_id}: it is outside their cost centres")


def flags_version(con: duckdb.DuckDBPyConnection, user: User | None) -> str:
    """Changes whenever an incident `user` may see is created, grows or changes status: cheap enough to poll."""
    pred, params = cost_center_filter(user, "a.cost_center_id")
    row = con.execute(f"SELECT count(*), max(a.updated_at)::VARCHAR, count(*) FILTER (WHERE a.status IN "
                      f"({', '.join(lit(s) for s in ACTIVE)})) FROM anomaly a WHERE a.rule IS NOT NULL AND {pred}",
                      params).fetchall()[0]
    return f"{row[0]}:{row[1] or ''}:{row[2]}"


@dataclass(frozen=True)
class FlagSummary:
    active: int
    at_risk: Decimal            # summed excess of the active incidents
    top: pl.DataFrame           # the largest active incidents
    over_budget: int = 0        # active budget-threshold incidents, counted apart


def summary(con: duckdb.DuckDBPyConnection, user: User | None, limit: int = 5) -> FlagSummary:
    """Active spend anomalies `user` may see: how many, their summed excess, and the `limit` largest; budget
    overruns are counted apart (an overrun is not money nobody expected, and its excess would count twice)."""
    pred, params = cost_center_filter(user, "a.cost_center_id")
    active = ", ".join(lit(s) for s in ACTIVE)
    n, total, over = con.execute(
        f"SELECT count(*) FILTER (WHERE a.rule <> {lit(BUDGET)}),"
        f" coalesce(sum(a.excess) FILTER (WHERE a.rule <> {lit(BUDGET)}), 0),"
        f" count(*) FILTER (WHERE a.rule = {lit(BUDGET)}) FROM anomaly a WHERE a.rule IS NOT NULL "
        f"AND a.status IN ({active}) AND {pred}", params).fetchall()[0]
    top = list_anomalies(con, user, "active", limit=limit, exclude_rules=(BUDGET,))
    return FlagSummary(int(n), Decimal(total).quantize(Decimal("0.01")), top, int(over))


def open_markers(con: duckdb.DuckDBPyConnection, user: User | None, period: str, level: str) -> dict[str, int]:
    """Active incidents overlapping `period` per row name of an explorer drill level (business unit, cost centre
    and application by name; service and resource by id), scoped to `user`."""
    first = month_start(period)
    by_level = {
        "business_unit": ("cost_center", "coalesce(bu.name, ?)"),
        "cost_center": ("cost_center", "coalesce(cc.name, a.scope_id)"),
        "application": ("application", "coalesce(ap.name, a.scope_id)"),
        "service_name": ("service", "a.scope_id"),
        "resource_id": ("resource", "a.scope_id"),
    }
    if level not in by_level:
        raise InputError(f"unknown drill level {level!r}")
    kind, name = by_level[level]
    pred, sparams = cost_center_filter(user, "a.cost_center_id")
    params: list[Any] = [UNATTRIBUTED] if level == "business_unit" else []
    params += [kind, month_end(first), first, *sparams]
    rows = con.execute(
        f"""
        SELECT {name} AS name, count(*) FROM anomaly a
        LEFT JOIN org_unit cc ON cc.unit_id = a.scope_id AND cc.kind = 'cost_center'
        LEFT JOIN org_unit bu ON bu.unit_id = cc.parent_id
        LEFT JOIN application ap ON ap.app_id = a.scope_id
        WHERE a.scope_kind = ? AND a.first_date <= ? AND a.last_date >= ?
          AND a.status IN ({', '.join(lit(s) for s in ACTIVE)}) AND {pred}
        GROUP BY ALL
        """, params).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}


def flags_of(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str) -> pl.DataFrame:
    """The flagged days (months) of one incident."""
    get_anomaly(con, user, anomaly_id)
    return query(con, "SELECT date, actual, expected, excess, score FROM anomaly_flag WHERE anomaly_id = ? "
                      "ORDER BY date", [anomaly_id])


def history(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str) -> pl.DataFrame:
    """Every audited transition of one incident, oldest first: when, who, what, from, to, owner, comment."""
    get_anomaly(con, user, anomaly_id)
    return query(con, """
        SELECT event_at AS "when", actor AS who, action,
               detail->>'from' AS "from", detail->>'to' AS "to", detail->>'owner' AS owner,
               detail->>'comment' AS comment, detail->>'ticket' AS ticket
        FROM audit_event WHERE entity = 'anomaly' AND entity_id = ? ORDER BY seq""", [anomaly_id])


# -- drivers: which lines carry the excess -------------------------------------------------------------------------

def windows(a: Anomaly) -> tuple[tuple[date, date], tuple[date, date], float]:
    """(after window, before window, scale of the before window to the after window's length); end exclusive."""
    if a.rule == MONTHLY:
        after = (a.first_date, add_months(a.last_date, 1))
        before = (add_months(a.first_date, -3), a.first_date)
    elif a.rule == ALLOCATED:   # judged against the month before: the same number of months before it
        after = (a.first_date, add_months(a.last_date, 1))
        n = (a.last_date.year - a.first_date.year) * 12 + a.last_date.month - a.first_date.month + 1
        before = (add_months(a.first_date, -n), a.first_date)
    elif a.rule == "new_entity":
        after = (a.first_date, month_end(a.first_date) + timedelta(days=1))
        before = (a.first_date - timedelta(days=28), a.first_date)
    else:
        after = (a.first_date, a.last_date + timedelta(days=1))
        before = (a.first_date - timedelta(days=28), a.first_date)
    scale = (after[1] - after[0]).days / max((before[1] - before[0]).days, 1)
    return after, before, scale


def drivers(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str, limit: int = 10) -> pl.DataFrame:
    """The lines that carry an incident's excess, largest first: one row per resource, service, SKU and unit with
    cost, quantity and unit price in the incident's days ("after") against the days before ("before": the 4 weeks
    before a daily incident, the 3 months before a monthly one, scaled to the incident's length), and the excess.
    Lines spanning several days count by their overlap. Scoped to `user` in SQL."""
    a = get_anomaly(con, user, anomaly_id)
    grants.require_resource_lines(con, user)   # one row per resource: executives need the grant
    after, before, scale = windows(a)
    pred, sparams = cost_center_filter(user, "cost_center_id")
    overlap = OVERLAP
    sql = f"""
        WITH lines AS (
            SELECT l.charge_period_start AS s, l.charge_period_end AS e, l.effective_cost AS cost,
                   l.consumed_quantity AS qty, l.consumed_unit AS unit, l.resource_id, l.service_name, l.sku_id,
                   {LINE_OWNER},
                   coalesce(l.sub_account_id, l.billing_account_id) AS account_id
            FROM cost_line l
            {LINE_OWNER_JOINS}
            WHERE l.charge_period_start < ? AND l.charge_period_end > ?
        ),
        scoped AS (SELECT * FROM lines WHERE {_SCOPE_SQL[a.scope_kind]} = ? AND {pred}),
        weighted AS (SELECT *, {overlap} AS fa, {overlap} AS fb FROM scoped)
        SELECT coalesce(resource_id, '(none)') AS resource_id, coalesce(service_name, '(none)') AS service,
               sku_id AS sku, unit,
               sum(cost * fb) * ? AS cost_before, sum(qty * fb) * ? AS quantity_before,
               sum(cost * fa) AS cost_after, sum(qty * fa) AS quantity_after
        FROM weighted WHERE coalesce(fa, 0) > 0 OR coalesce(fb, 0) > 0
        GROUP BY ALL
    """
    params: list[Any] = [after[1], before[0], a.scope_id, *sparams, after[1], after[0], before[1], before[0],
                         scale, scale]
    raw = query(con, sql, params)
    if raw.is_empty():
        return raw
    money = pl.Decimal(18, 2)
    out = raw.with_columns(
        unit_price_before=pl.when(pl.col("quantity_before") > 0)
        .then(pl.col("cost_before").cast(pl.Float64) / pl.col("quantity_before")),
        unit_price_after=pl.when(pl.col("quantity_after") > 0)
        .then(pl.col("cost_after").cast(pl.Float64) / pl.col("quantity_after")),
    ).with_columns(
        pl.col("cost_before").cast(pl.Float64).round(2).cast(money),
        pl.col("cost_after").cast(pl.Float64).round(2).cast(money),
    ).with_columns(excess=(pl.col("cost_after") - pl.col("cost_before")).cast(money))
    return out.select("resource_id", "service", "sku", "unit", "cost_before", "cost_after", "excess",
                      "quantity_before", "quantity_after", "unit_price_before", "unit_price_after") \
        .sort(["excess", "resource_id"], descending=[True, False]).head(limit)


# -- triage -----------------------------------------------------------------------------------------------------------

def _for_triage(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str, what: str) -> Anomaly:
    policy.require(user, "triage_anomalies", what)
    return get_anomaly(con, user, anomaly_id)


def _clean_comment(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise InputError(f"a comment may be at most {COMMENT_MAX} characters, not {len(text)}")
    return text or None


def transition(con: duckdb.DuckDBPyConnection, user: User | None, anomaly_id: str, to: str, *,
               comment: str | None = None, owner: str | None = None, pattern: str | None = None,
               note: str | None = None) -> Anomaly:
    """Move an incident to `to` (acknowledged, resolved, false_positive; `ticketed` comes from `open_ticket_for`).

    Acknowledging takes ownership (`owner`, else the user). A false positive may record an expected pattern —
    `pattern` = "any_day", "weekday" (the incident's first weekday) or "day_of_month" (its first day's date) —
    that suppresses matching flags of the same scope and rule from then on. Audited with from, to, owner, comment."""
    a = _for_triage(con, user, anomaly_id, f"triage anomaly {anomaly_id}")
    assert user is not None
    if to == "ticketed":
        raise InputError("an anomaly becomes ticketed when a ticket is opened for it (open_ticket_for)")
    if to not in STATUSES:
        raise InputError(f"unknown anomaly status {to!r}; choose from {', '.join(STATUSES)}")
    if to not in NEXT[a.status]:
        allowed = ", ".join(NEXT[a.status]) or "nothing (it is closed)"
        raise InputError(f"anomaly {anomaly_id} is {a.status}: it can move to {allowed}, not {to}")
    if pattern is not None and to != "false_positive":
        raise InputError("an expected pattern is recorded only when an anomaly is marked a false positive")
    if pattern is not None and pattern not in PATTERNS:
        raise InputError(f"unknown pattern {pattern!r}; choose from {', '.join(PATTERNS)}")
    text = _clean_comment(comment)
    new_owner = (owner or "").strip() or (a.owner or user.username if to == "acknowledged" else a.owner)
    now = now_utc()
    with transaction(con):
        current = con.execute("SELECT status FROM anomaly WHERE anomaly_id = ?", [anomaly_id]).fetchall()[0][0]
        if current != a.status:
            raise InputError(f"anomaly {anomaly_id} changed meanwhile (now {current}); reload and try again")
        pattern_id = None
        if pattern is not None:
            pattern_id = _add_pattern(con, a, pattern, user.username, note or text, now)
        con.execute("UPDATE anomaly SET status = ?, owner = ?, comment = coalesce(?, comment), updated_at = ?, "
                    "updated_by = ?, resolved_at = CASE WHEN ? THEN ? ELSE resolved_at END, "
                    "pattern_id = coalesce(?, pattern_id) WHERE anomaly_id = ?",
                    [to, new_owner, text, now, user.username, to in CLOSED, now, pattern_id, anomaly_id])
        audit.record(con, user.username, f"anomaly.{to}", "anomaly", anomaly_id, {
            "from": a.status, "to": to, "owner": new_owner, "comment": text, "pattern": pattern_id})
    return get_anomaly(con, user, anomaly_id)


def _add_pattern(con: duckdb.DuckDBPyConnection, a: Anomaly, pattern: str, actor: str, note: str | None,
                 now: datetime) -> str:
    weekday = a.first_date.weekday() if pattern == "weekday" else None
    dom = a.first_date.day if pattern == "day_of_month" else None
    pid = f"P-{int(con.execute('SELECT nextval(?)', ['anomaly_seq']).fetchall()[0][0])}"
    con.execute("INSERT INTO anomaly_pattern (pattern_id, scope_kind, scope_id, rule, weekday, day_of_month, "
                "cost_center_id, source_anomaly_id, note, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)", [pid, a.scope_kind, a.scope_id, a.rule, weekday, dom, a.cost_center_id, a.anomaly_id,
                             note, actor, now])
    audit.record(con, actor, "anomaly_pattern.add", "anomaly_pattern", pid, {
        "scope_kind": a.scope_kind, "scope_id": a.scope_id, "rule": a.rule, "weekday": weekday,
        "day_of_month": dom, "source_anomaly": a.anomaly_id, "note": note})
    return pid


def list_patterns(con: duckdb.DuckDBPyConnection, user: User | None, *, include_inactive: bool = False) -> pl.DataFrame:
    """Expected patterns `user` may see (app owners: those of their cost centres)."""
    pred, params = cost_center_filter(user, "cost_center_id")
    extra = "" if include_inactive else " AND active"
    return query(con, "SELECT pattern_id, scope_kind, scope_id, rule, weekday, day_of_month, note, created_by, "
                      f"created_at, active, source_anomaly_id FROM anomaly_pattern WHERE {pred}{extra} "
                      "ORDER BY created_at, pattern_id", params)


def deactivate_pattern(con: duckdb.DuckDBPyConnection, user: User | None, pattern_id: str) -> None:
    """Stop suppressing: later flags of that scope and rule are raised again. Audited."""
    policy.require(user, "triage_anomalies", f"change expected pattern {pattern_id}")
    assert user is not None
    rows = con.execute("SELECT cost_center_id, active FROM anomaly_pattern WHERE pattern_id = ?",
                       [pattern_id]).fetchall()
    if not rows:
        raise NotFound(f"no expected pattern {pattern_id!r}")
    cc, active = rows[0]
    if user.cost_centers is not None and (cc is None or cc not in user.cost_centers):
        raise AccessDenied(f"{user.username} may not change pattern {pattern_id}: it is outside their cost centres")
    if not active:
        return
    with transaction(con):
        con.execute("UPDATE anomaly_pattern SET active = FALSE WHERE pattern_id = ?", [pattern_id])
        audit.record(con, user.username, "anomaly_pattern.deactivate", "anomaly_pattern", pattern_id, {})


# -- tickets --------------------------------------------------------------------------------------------------------

def ticket_text(a: Anomaly) -> tuple[str, str]:
    """(title, body) of the ticket for an incident. Names come from the data and are sent as plain text."""
    kind = KIND_TITLES.get(a.scope_kind, a.scope_kind)
    days = span_text(a.rule, a.first_date, a.last_date)
    title = f"Cost anomaly {a.anomaly_id}: {kind.lower()} {a.scope_name}, {days}, {a.excess:,} over expected"
    body = "\n".join([
        f"{kind}: {a.scope_name} ({a.scope_id})",
        f"Cost centre: {a.cost_center or a.cost_center_id or 'several or none'}",
        f"Rule: {RULE_TITLES.get(a.rule, a.rule)}",
        f"When: {days} ({a.flagged_days} flagged)",
        f"Actual {a.actual:,}, expected {a.expected:,}, excess {a.excess:,} (effective cost)",
        f"Status in Apportion: {a.status}" + (f", owner {a.owner}" if a.owner else ""),
    ] + ([f"Comment: {a.comment}"] if a.comment else []))
    return title, body


def open_ticket_for(con: duckdb.DuckDBPyConnection, anomaly_id: str, target_name: str, actor_user: User | None, *,
                    link: str | None = None, retry: RetryPolicy | None = None) -> Ticket:
    """Open (or return) the one ticket of an incident at a target (engine/outputs/tickets), then store its id,
    reference and link on the incident and mark it ticketed (audited `anomaly.ticketed`). A ticket still pending
    (the target did not answer in time) is stored as such; the incident turns ticketed when a later call finds it
    open. Returns the `Ticket`."""
    from engine.outputs.tickets import DEFAULT_POLICY, open_ticket

    a = _for_triage(con, actor_user, anomaly_id, f"open a ticket for anomaly {anomaly_id}")
    assert actor_user is not None
    if a.status in CLOSED:
        raise InputError(f"anomaly {anomaly_id} is {a.status}: a closed anomaly gets no ticket")
    title, body = ticket_text(a)
    ticket = open_ticket(con, target_name, "anomaly", anomaly_id, title, body, link, actor_user.username,
                         cost_center_id=a.cost_center_id, policy=retry or DEFAULT_POLICY)
    now = now_utc()
    with transaction(con):
        status, known, ref = con.execute("SELECT status, ticket_id, ticket_ref FROM anomaly WHERE anomaly_id = ?",
                                         [anomaly_id]).fetchall()[0]
        to = "ticketed" if ticket.is_open and status in ACTIVE else status
        if (status, known, ref) == (to, ticket.ticket_id, ticket.reference):
            return ticket   # already stored as it stands: nothing to write
        con.execute("UPDATE anomaly SET ticket_id = ?, ticket_ref = ?, ticket_url = ?, status = ?, updated_at = ?, "
                    "updated_by = ? WHERE anomaly_id = ?",
                    [ticket.ticket_id, ticket.reference, ticket.url, to, now, actor_user.username, anomaly_id])
        audit.record(con, actor_user.username, f"anomaly.{'ticketed' if to == 'ticketed' else 'ticket_pending'}",
                     "anomaly", anomaly_id, {"from": status, "to": to, "ticket": ticket.reference or ticket.ticket_id,
                                             "target": target_name, "ticket_status": ticket.status,
                                             "url": ticket.url})
    return ticket
