"""Budgets per cost centre and month: proposed from history, edited (audited), and watched against thresholds
(default 80 / 100 / 120 %, shown by `standing`). A posted month whose charge reaches 100 % of its budget raises a
flag in the anomaly workflow: it shows on the Anomalies page and the cost centre's statement like every other flag,
and is counted on the overview as "Over budget" (apart from spend anomalies: an overrun's excess is not unexpected
spend).

Proposal: the median of the cost centre's posted charge (allocated cost, the basis statements charge) over the last
`months` posted months before the period, times (1 + growth), rounded to the cent.
Flags (rule `budget_threshold`): one per cost centre and month, dated the month's first day; actual = the posted
charge, expected = the budget, excess = charge − budget, score = charge ÷ budget. A higher crossing later in the
month (a re-run) updates the same flag.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import polars as pl

from engine.access.policy import require
from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.errors import InputError
from engine.insights.anomalies.scan import SCHEMA
from engine.masterdata.as_of import check_period
from engine.store import audit, transaction
from engine.store.sql import query

RULE = "budget_threshold"
THRESHOLDS: tuple[int, ...] = (80, 100, 120)
FLAG_FROM = 100     # a closed month flags from 100 %: 80 % of a month's budget spent by its end is no alarm
CENT = Decimal("0.01")


def _posted_by_cc(con: duckdb.DuckDBPyConnection, period: str) -> dict[str, Decimal]:
    rows = con.execute("""
        WITH latest AS (SELECT run_key FROM allocation_run WHERE period = ? AND status = 'posted'
                        ORDER BY started_at DESC LIMIT 1)
        SELECT cost_center_id, sum(posted_amount) FROM allocation_result
        WHERE run_key = (SELECT run_key FROM latest) AND cost_center_id IS NOT NULL GROUP BY 1""",
                       [period]).fetchall()
    return {str(cc): Decimal(a) for cc, a in rows}


def propose(con: duckdb.DuckDBPyConnection, period: str, *, growth: Decimal = Decimal(0),
            months: int = 3) -> pl.DataFrame:
    """cost_center_id, name, proposed, history (the months used) for every cost centre with posted history."""
    check_period(period)
    if months < 1:
        raise InputError("a proposal needs at least one month of history")
    prior = [str(r[0]) for r in con.execute(
        "SELECT DISTINCT period FROM allocation_run WHERE status = 'posted' AND period < ? ORDER BY 1 DESC LIMIT ?",
        [period, months]).fetchall()]
    if not prior:
        raise InputError(f"no posted month before {period}: nothing to propose a budget from")
    charges = {p: _posted_by_cc(con, p) for p in prior}
    names = dict(con.execute("SELECT unit_id, name FROM org_unit WHERE kind = 'cost_center'").fetchall())
    rows = []
    for cc in sorted({c for m in charges.values() for c in m}):
        values = [charges[p].get(cc, Decimal(0)) for p in prior]
        median = Decimal(statistics.median(values))
        rows.append({"cost_center_id": cc, "name": names.get(cc, cc),
                     "proposed": (median * (1 + growth)).quantize(CENT, ROUND_HALF_EVEN),
                     "history": ", ".join(f"{p}: {charges[p].get(cc, Decimal(0)):,.2f}" for p in sorted(prior))})
    return pl.DataFrame(rows, schema={"cost_center_id": pl.String, "name": pl.String,
                                      "proposed": pl.Decimal(18, 2), "history": pl.String})


def set_budgets(con: duckdb.DuckDBPyConnection, user: User, period: str, amounts: Mapping[str, Decimal],
                reason: str) -> int:
    """Write budgets for `period` (replacing those of the named cost centres); audited with before and after."""
    require(user, "manage_budgets", f"set budgets for {period}")
    check_period(period)
    if not reason.strip():
        raise InputError("say why the budgets change: it goes to the audit trail")
    known = {r[0] for r in con.execute("SELECT unit_id FROM org_unit WHERE kind = 'cost_center'").fetchall()}
    bad = sorted(set(amounts) - known)
    if bad:
        raise InputError(f"not cost centres: {', '.join(bad)}")
    negative = sorted(cc for cc, a in amounts.items() if a < 0)
    if negative:
        raise InputError(f"a budget cannot be negative ({', '.join(negative)})")
    before = {str(cc): str(a) for cc, a in con.execute(
        "SELECT cost_center_id, amount FROM budget WHERE period = ?", [period]).fetchall() if cc in amounts}
    with transaction(con):
        for cc, amount in sorted(amounts.items()):
            con.execute("DELETE FROM budget WHERE period = ? AND cost_center_id = ?", [period, cc])
            con.execute("INSERT INTO budget VALUES (?, ?, ?)", [period, cc, Decimal(amount).quantize(CENT)])
        audit.record(con, user.username, "budget.set", "budget", period, {
            "reason": reason.strip(), "before": before,
            "after": {cc: str(Decimal(a).quantize(CENT)) for cc, a in sorted(amounts.items())}})
    return len(amounts)


def standing(con: duckdb.DuckDBPyConnection, user: User | None, period: str,
           thresholds: Sequence[int] = THRESHOLDS) -> pl.DataFrame:
    """Per cost centre the caller may see: budget, posted charge, used % and the highest threshold crossed."""
    check_period(period)
    pred, params = cost_center_filter(user, "b.cost_center_id")
    frame = query(con, f"""
        SELECT b.cost_center_id, o.name, b.amount AS budget FROM budget b
        LEFT JOIN org_unit o ON o.unit_id = b.cost_center_id
        WHERE b.period = ? AND {pred} ORDER BY 1""", [period, *params])
    charged = _posted_by_cc(con, period)
    rows = []
    for cc, name, budget in frame.iter_rows():
        charge = charged.get(cc)
        used = None if charge is None or not budget else float(charge / budget * 100)
        crossed = max((t for t in thresholds if used is not None and used >= t), default=None)
        rows.append({"cost_center_id": cc, "name": name, "budget": budget, "charged": charge,
                     "used_pct": used, "crossed": crossed})
    return pl.DataFrame(rows, schema={"cost_center_id": pl.String, "name": pl.String, "budget": pl.Decimal(18, 2),
                                      "charged": pl.Decimal(18, 2), "used_pct": pl.Float64, "crossed": pl.Int64})


def crossing_flags(con: duckdb.DuckDBPyConnection, period: str,
                   thresholds: Sequence[int] = THRESHOLDS) -> pl.DataFrame:
    """The flag frame (the anomaly workflow's shape) for every cost centre whose posted charge reached FLAG_FROM %
    of its budget (the lower thresholds show in `standing`)."""
    first = date(int(period[:4]), int(period[5:7]), 1)
    rows = []
    for r in standing(con, _everyone(), period, thresholds).iter_rows(named=True):
        if r["crossed"] is None or r["charged"] is None or r["crossed"] < FLAG_FROM:
            continue
        rows.append({"scope_kind": "cost_center", "scope_id": r["cost_center_id"], "date": first,
                     "actual": r["charged"], "expected": r["budget"],
                     "excess": (r["charged"] - r["budget"]).quantize(CENT), "score": float(r["used_pct"]) / 100,
                     "rule": RULE})
    return pl.DataFrame(rows, schema=SCHEMA) if rows else pl.DataFrame(schema=SCHEMA)


def _everyone() -> User:
    return User("system", "Budget watch", "admin", None)
