"""Rule reviews: every approved rule set and each of its pools (steps) carries a review date; one not reviewed for
REVIEW_DAYS (a quarter) is flagged. A review records who, when, what was checked and the decision: keep, or change,
which opens a draft through engine/rules/versions.create_draft (maker-checker applies from there). Audited.

The review date is the latest review of the subject, else the day its rule set was first approved (the rule has
been in force unreviewed since then).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from engine.access import policy
from engine.access.users import User
from engine.errors import InputError, NotFound
from engine.rules import versions
from engine.store import audit, transaction
from engine.store.sql import query

REVIEW_DAYS = 90
DECISIONS = ("keep", "change")


@dataclass(frozen=True)
class Review:
    review_id: str
    subject_kind: str
    rule_set: str
    pool: str | None
    reviewed_by: str
    reviewed_at: datetime
    checked: str
    decision: str
    draft_version: int | None


def overview(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> pl.DataFrame:
    """One row per rule set and per pool of its latest approved version: review_date, days_since, flagged."""
    at = now or audit.now()
    rows: list[dict[str, object]] = []
    names = [str(r[0]) for r in con.execute(
        "SELECT DISTINCT name FROM rule_set WHERE status = 'approved' ORDER BY 1").fetchall()]
    for name in names:
        approved = [v for v in versions.list_versions(con, name) if v.status == "approved"]
        latest = max(approved, key=lambda v: v.version)
        since = min(v.created_at for v in approved)
        subjects = [("rule_set", None)] + [("pool", s.id) for s in latest.rule_set.steps]
        for kind, pool in subjects:
            last = con.execute(
                "SELECT max(reviewed_at) FROM rule_review WHERE rule_set = ? AND subject_kind = ?"
                " AND pool IS NOT DISTINCT FROM ?", [name, kind, pool]).fetchall()[0][0]
            date = last or since
            days = (at - date).days
            rows.append({"subject_kind": kind, "rule_set": name, "pool": pool, "review_date": date,
                         "reviewed": last is not None, "days_since": days, "flagged": days >= REVIEW_DAYS})
    return pl.DataFrame(rows, schema={"subject_kind": pl.String(), "rule_set": pl.String(), "pool": pl.String(),
                                      "review_date": pl.Datetime(), "reviewed": pl.Boolean(),
                                      "days_since": pl.Int64(), "flagged": pl.Boolean()}, orient="row")


def review(con: duckdb.DuckDBPyConnection, user: User, rule_set: str, checked: str, decision: str, *,
           pool: str | None = None, now: datetime | None = None) -> Review:
    """Record a review; `change` opens a draft of the rule set (a copy of the latest approved body to edit)."""
    policy.require(user, "lead_improvement", f"review {rule_set}")
    if decision not in DECISIONS:
        raise InputError(f"a review decides {' or '.join(DECISIONS)}, not {decision!r}")
    if not checked.strip():
        raise InputError("say what the review checked")
    approved = [v for v in versions.list_versions(con, rule_set) if v.status == "approved"]
    if not approved:
        raise NotFound(f"rule set {rule_set!r} has no approved version to review")
    latest = max(approved, key=lambda v: v.version)
    if pool is not None and pool not in {s.id for s in latest.rule_set.steps}:
        raise NotFound(f"{rule_set} v{latest.version} has no pool {pool!r}")
    draft = None
    if decision == "change":   # create_draft runs its own (audited) transaction first
        draft = versions.create_draft(con, latest.rule_set, user.username, f"review: {checked.strip()}",
                                      parent_version=latest.version)
    rid = uuid.uuid4().hex[:12]
    at = now or audit.now()
    kind = "pool" if pool is not None else "rule_set"
    with transaction(con):
        con.execute("INSERT INTO rule_review VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [rid, kind, rule_set, pool, user.username, at, checked.strip(), decision, draft])
        audit.record(con, user.username, "rule.review", "rule_set", rule_set, {
            "pool": pool, "checked": checked.strip(), "decision": decision, "draft_version": draft,
            "reviewed_version": latest.version})
    return Review(rid, kind, rule_set, pool, user.username, at, checked.strip(), decision, draft)


def history(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return query(con, "SELECT * FROM rule_review ORDER BY reviewed_at DESC")
