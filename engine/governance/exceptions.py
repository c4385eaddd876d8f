"""Business exceptions: a project spike, an acquisition, a migration — a time-boxed departure from the rules with a
scope, an owner, a reason, a treatment, an approval and an expiry. The base rules are never edited.

Treatments:
- `exclude_from_anomalies`: flags on the scope are not raised while the exception is in force (scope fields:
  cost_center, application, service_name, sub_account_id, resource_id);
- `hold_centrally`: the scope's cost goes to one central cost centre instead of following the steps;
- `temporary_driver`: the scope's cost is shared by another driver (e.g. headcount while a migration runs).
The last two are applied, once approved, as pooled exceptions (the `exception` table, id `BX-<n>`, valid from/to),
which every run and what-if reads for its month — so an expired exception stops applying on the next run by itself,
and results show the `exception:BX-<n>` pool the money went through.

Maker-checker: the requester (any role that closes months, or an app owner within their own cost centres) cannot
approve; approvers hold `approve_close` (finops, admin) and are compared with engine/access/identity.py. A request
still waiting after ESCALATE_DAYS days is listed as escalated to the admins. Every step is audited.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Literal

import duckdb
import polars as pl

from engine.access.identity import checker, identity
from engine.access.policy import require
from engine.access.users import User
from engine.errors import AccessDenied, InputError, NotFound
from engine.masterdata.as_of import check_period
from engine.store import audit, transaction
from engine.store.sql import query

Treatment = Literal["exclude_from_anomalies", "hold_centrally", "temporary_driver"]
KINDS = ("project_spike", "acquisition", "migration", "other")
ALLOCATION_FIELDS = ("resource_id", "sub_account_id", "service_name", "billing_account_id", "sku_id")
ANOMALY_FIELDS = {"cost_center": "cost_center", "application": "application", "service_name": "service",
                  "sub_account_id": "account", "resource_id": "resource"}
ESCALATE_DAYS = 7
PREFIX = "BX-"


def _treatment_json(treatment: str, detail: dict[str, Any]) -> dict[str, Any] | None:
    if treatment == "hold_centrally":
        return {"method": "fixed", "split": {str(detail["cost_center"]): "100"}, "target_kind": "cost_center"}
    if treatment == "temporary_driver":
        return {"method": "driver", "driver": str(detail["driver"]),
                "target_kind": str(detail.get("target_kind", "cost_center"))}
    return None


def request(con: duckdb.DuckDBPyConnection, user: User, *, kind: str, match_field: str, match_value: str,
            owner: str, reason: str, treatment: Treatment, detail: dict[str, Any] | None, valid_from: str,
            valid_to: str) -> int:
    """File a request; nothing applies until someone else approves it."""
    require(user, "close_month" if not user.scoped else "triage_anomalies", "request a business exception")
    detail = dict(detail or {})
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    check_period(valid_from)
    check_period(valid_to)
    if valid_to < valid_from:
        raise InputError(f"the exception ends ({valid_to}) before it starts ({valid_from})")
    if not reason.strip() or not owner.strip() or not match_value.strip():
        raise InputError("an exception needs a scope value, an owner and a reason")
    if treatment == "exclude_from_anomalies":
        if match_field not in ANOMALY_FIELDS:
            raise InputError(f"anomaly exclusions match one of {', '.join(ANOMALY_FIELDS)}, not {match_field!r}")
    elif treatment in ("hold_centrally", "temporary_driver"):
        if match_field not in ALLOCATION_FIELDS:
            raise InputError(f"allocation exceptions match one of {', '.join(ALLOCATION_FIELDS)}, "
                             f"not {match_field!r}")
        key = "cost_center" if treatment == "hold_centrally" else "driver"
        if not str(detail.get(key) or "").strip():
            raise InputError(f"{treatment} needs `{key}`")
        if treatment == "hold_centrally" and not con.execute(
                "SELECT 1 FROM org_unit WHERE unit_id = ? AND kind = 'cost_center'", [detail[key]]).fetchall():
            raise InputError(f"{detail[key]!r} is not a cost centre")
    else:
        raise InputError(f"treatment must be exclude_from_anomalies, hold_centrally or temporary_driver, "
                         f"not {treatment!r}")
    if user.scoped and match_field == "cost_center" and match_value not in (user.cost_centers or ()):
        raise AccessDenied(f"{user.username} can request exceptions only for their own cost centres")
    with transaction(con):
        no = int(con.execute(
            "INSERT INTO business_exception (kind, match_field, match_value, owner, reason, treatment, detail,"
            " valid_from, valid_to, state, requested_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested', ?)"
            " RETURNING exception_no",
            [kind, match_field, match_value.strip(), owner.strip(), reason.strip(), treatment,
             json.dumps(detail, sort_keys=True), valid_from, valid_to, user.username]).fetchall()[0][0])
        audit.record(con, user.username, "exception.request", "business_exception", str(no), {
            "kind": kind, "scope": [match_field, match_value], "treatment": treatment, "detail": detail,
            "valid": [valid_from, valid_to], "owner": owner, "reason": reason.strip()})
    return no


def _row(con: duckdb.DuckDBPyConnection, no: int) -> dict[str, Any]:
    rows = query(con, "SELECT * FROM business_exception WHERE exception_no = ?", [no])
    if rows.is_empty():
        raise NotFound(f"no business exception {no}")
    return rows.row(0, named=True)


def decide(con: duckdb.DuckDBPyConnection, no: int, approver: str, approve: bool, note: str) -> str:
    """Approve (applies from valid_from to valid_to) or reject; never by the requester."""
    ex = _row(con, no)
    what = f"business exception {no}"
    user = checker(con, approver, "approve_close", "approve" if approve else "reject", what,
                   "approve exceptions")
    if ex["state"] != "requested":
        raise InputError(f"{what} is {ex['state']}, not waiting for a decision")
    if identity(user.username) == identity(ex["requested_by"]):
        raise AccessDenied(f"{user.username} requested {what}: someone else must decide it")
    if not note.strip():
        raise InputError("say why: the note goes to the requester and the audit trail")
    state = "approved" if approve else "rejected"
    with transaction(con):
        con.execute("UPDATE business_exception SET state = ?, decided_by = ?, decision_note = ?,"
                    " decided_at = current_timestamp WHERE exception_no = ?", [state, user.username, note.strip(), no])
        treatment = _treatment_json(ex["treatment"], json.loads(ex["detail"]))
        if approve and treatment is not None:
            con.execute("INSERT INTO exception VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [f"{PREFIX}{no}", ex["match_field"], ex["match_value"], json.dumps(treatment),
                         f"{ex['kind']}: {ex['reason']} (owner {ex['owner']})", user.username, ex["valid_from"],
                         ex["valid_to"]])
        audit.record(con, user.username, f"exception.{'approve' if approve else 'reject'}", "business_exception",
                     str(no), {"note": note.strip(), "applied_as": f"{PREFIX}{no}" if approve and treatment else None})
    return state


def list_exceptions(con: duckdb.DuckDBPyConnection, period: str, today: date | None = None) -> pl.DataFrame:
    """Every business exception with its status for `period`: in force, expired, not yet started, waiting
    (escalated after ESCALATE_DAYS), rejected."""
    check_period(period)
    today = today or date.today()
    frame = query(con, "SELECT exception_no, kind, match_field, match_value, owner, reason, treatment, valid_from,"
                       " valid_to, state, requested_by, decided_by, decision_note, created_at FROM business_exception"
                       " ORDER BY exception_no DESC")

    def status(state: str, start: str, end: str, created: datetime) -> str:
        if state == "requested":
            waited = (today - created.date()).days
            return "waiting, escalated to admin" if waited > ESCALATE_DAYS else "waiting for approval"
        if state != "approved":
            return state
        return "expired" if end < period else ("not started" if start > period else "in force")

    return frame.with_columns(pl.Series("status", [
        status(s, f, t, c) for s, f, t, c in frame.select("state", "valid_from", "valid_to", "created_at").iter_rows()
    ], dtype=pl.String))


def excluded_scopes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(scope_kind, scope_id, valid_from, valid_to) of approved anomaly exclusions."""
    rows = con.execute("SELECT match_field, match_value, valid_from, valid_to FROM business_exception"
                       " WHERE state = 'approved' AND treatment = 'exclude_from_anomalies'").fetchall()
    return pl.DataFrame([{"scope_kind": ANOMALY_FIELDS[f], "scope_id": v, "valid_from": a, "valid_to": b}
                         for f, v, a, b in rows],
                        schema={"scope_kind": pl.String, "scope_id": pl.String, "valid_from": pl.String,
                                "valid_to": pl.String})


def drop_excluded(con: duckdb.DuckDBPyConnection, flags: pl.DataFrame) -> pl.DataFrame:
    """The anomaly flags not covered by an approved exclusion in force for the flag's month."""
    ex = excluded_scopes(con)
    if ex.is_empty() or flags.is_empty():
        return flags
    keyed = flags.with_row_index("_i").with_columns(_month=pl.col("date").dt.strftime("%Y-%m"))
    hit = keyed.join(ex, on=["scope_kind", "scope_id"], how="inner").filter(
        (pl.col("valid_from") <= pl.col("_month")) & (pl.col("_month") <= pl.col("valid_to")))["_i"].unique()
    return keyed.filter(~pl.col("_i").is_in(hit)).drop("_i", "_month")
