"""FP&A plans: import a plan per cost centre and period (CSV or XLSX), all or nothing, and compare it with the
allocated actual.

A file has the columns `period` (YYYY-MM or FY2026-P03), `cost_center_id` and `amount`, and optionally `currency`
(the reporting currency when absent: plans in another currency are refused, amounts of different currencies are
never added). Every row is checked before anything is written; the first problems are reported with the file, the
data row (the header is row 1), the column and what was expected, and nothing is loaded. A valid file replaces the
plan of the (period, cost centre) pairs it names, in one transaction with its `plan_import` row and audit event.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import polars as pl

from engine import store
from engine.access import policy
from engine.access.scope import cost_center_filter
from engine.access.users import User
from engine.allocation.runs import latest_run
from engine.errors import InputError
from engine.fiscal import calendar as fiscal_calendar
from engine.ingest.contract.connector import FileRefused
from engine.ingest.contract.safe_read import read_xlsx_rows
from engine.settings import get_settings
from engine.store import audit
from engine.store.sql import frame

REQUIRED = ("period", "cost_center_id", "amount")
OPTIONAL = ("currency",)
MAX_ROWS = 100_000
MAX_REPORTED = 10
CENT = Decimal("0.01")
MONEY = pl.Decimal(18, 2)


class PlanRejected(InputError):
    """A plan file with rows that cannot be loaded: `problems` lists each (row, column, expected)."""

    def __init__(self, file: str, problems: list[tuple[int, str, str]]) -> None:
        self.file, self.problems = file, problems
        shown = "; ".join(f"row {r}, column '{c}': {e}" for r, c, e in problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        super().__init__(f"{file}: nothing was loaded — {shown}{more}")


@dataclass(frozen=True)
class PlanImport:
    import_id: str
    file_name: str
    rows: int
    total: Decimal
    currency: str
    periods: tuple[str, ...]
    replaced: int


def _rows(name: str, content: bytes) -> list[list[object]]:
    if name.lower().endswith(".xlsx"):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / Path(name).name
            path.write_bytes(content)
            return read_xlsx_rows(path, max_rows=MAX_ROWS + 1)
    if not name.lower().endswith(".csv"):
        raise FileRefused(name, "a .csv or .xlsx file")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused(name, "UTF-8 text") from None
    return [list(r) for r in csv.reader(io.StringIO(text))]


def parse(con: duckdb.DuckDBPyConnection, name: str, content: bytes) -> list[tuple[str, str, Decimal, str]]:
    """(slot, cost centre, amount, currency) per row, or PlanRejected naming every bad row."""
    rows = _rows(name, content)
    if not rows or not any(str(c or "").strip() for c in rows[0]):
        raise FileRefused(name, f"a header row with the columns {', '.join(REQUIRED)}", row=1)
    header = [str(c or "").strip().lower() for c in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FileRefused(name, f"the columns {', '.join(REQUIRED)} (missing: {', '.join(missing)})", row=1,
                          column=missing[0])
    if len(rows) - 1 > MAX_ROWS:
        raise FileRefused(name, f"at most {MAX_ROWS} plan rows")
    col = {c: header.index(c) for c in (*REQUIRED, *OPTIONAL) if c in header}
    known = {str(r[0]) for r in con.execute("SELECT unit_id FROM org_unit WHERE kind = 'cost_center'").fetchall()}
    reporting = get_settings().currency
    start = get_settings().fiscal_year_start_month
    out: list[tuple[str, str, Decimal, str]] = []
    problems: list[tuple[int, str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for n, raw in enumerate(rows[1:], start=2):
        cells = {c: ("" if i >= len(raw) or raw[i] is None else str(raw[i]).strip()) for c, i in col.items()}
        if not any(cells.values()):
            continue  # a blank line
        before = len(problems)
        try:
            slot = fiscal_calendar.to_slot(cells["period"], start)
        except InputError:
            problems.append((n, "period", f"YYYY-MM or FY<year>-P<01-12>, got '{cells['period'][:40]}'"))
            slot = ""
        cc = cells["cost_center_id"]
        if cc not in known:
            problems.append((n, "cost_center_id", f"a known cost centre id, got '{cc[:40]}'"))
        try:
            amount = Decimal(cells["amount"].replace(",", ""))
            if not amount.is_finite() or amount != amount.quantize(CENT) or abs(amount) >= Decimal(10) ** 16:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append((n, "amount", f"a number with at most 2 decimals, got '{cells['amount'][:40]}'"))
            amount = Decimal(0)
        currency = (cells.get("currency") or reporting).upper()
        if currency != reporting:
            problems.append((n, "currency", f"the reporting currency {reporting} (plans are never converted), "
                                            f"got '{currency[:10]}'"))
        if len(problems) == before:
            first = seen.setdefault((slot, cc), n)
            if first != n:
                problems.append((n, "period", f"one row per period and cost centre ({slot} {cc} is also row {first})"))
            out.append((slot, cc, amount.quantize(CENT), currency))
    if problems:
        raise PlanRejected(name, problems)
    if not out:
        raise FileRefused(name, "at least one plan row under the header", row=2)
    return out


def import_plan(con: duckdb.DuckDBPyConnection, name: str, content: bytes, user: User | None) -> PlanImport:
    """Check every row, then replace the plan of the pairs the file names, all in one transaction."""
    policy.require(user, "import_plan", "import a plan")
    assert user is not None
    rows = parse(con, name, content)
    import_id = hashlib.sha256(content).hexdigest()
    total = sum((r[2] for r in rows), Decimal(0))
    currency = rows[0][3]
    with store.transaction(con):
        con.execute("DELETE FROM plan_import WHERE import_id = ?", [import_id])  # the same file again
        con.execute("INSERT INTO plan_import (import_id, file_name, row_count, total, currency, loaded_by)"
                    " VALUES (?, ?, ?, ?, ?, ?)", [import_id, name, len(rows), total, currency, user.username])
        frame = pl.DataFrame({"period": [r[0] for r in rows], "cost_center_id": [r[1] for r in rows],
                              "amount": [r[2] for r in rows], "currency": [r[3] for r in rows]},
                             schema={"period": pl.String, "cost_center_id": pl.String, "amount": MONEY,
                                     "currency": pl.String})
        con.register("_plan_rows", frame)
        try:
            replaced = int(con.execute(
                "SELECT count(*) FROM plan_line p JOIN _plan_rows r USING (period, cost_center_id)").fetchall()[0][0])
            con.execute("DELETE FROM plan_line WHERE (period, cost_center_id) IN"
                        " (SELECT (period, cost_center_id) FROM _plan_rows)")
            con.execute("INSERT INTO plan_line (period, cost_center_id, amount, currency, import_id)"
                        " SELECT period, cost_center_id, amount, currency, ? FROM _plan_rows", [import_id])
        finally:
            con.unregister("_plan_rows")
        periods = tuple(sorted({r[0] for r in rows}))
        audit.record(con, user.username, "plan.import", "plan_import", import_id, {
            "file": name, "rows": len(rows), "total": str(total), "currency": currency, "periods": list(periods),
            "replaced": replaced})
    return PlanImport(import_id, name, len(rows), total, currency, periods, replaced)


def plan_vs_actual(con: duckdb.DuckDBPyConnection, user: User | None, period: str) -> pl.DataFrame:
    """Per cost centre the user may see: plan, allocated actual (the month's latest posted run) and the variance
    (actual − plan; positive = over plan). Cost centres with a plan or an allocation appear."""
    pred, params = cost_center_filter(user, "u.unit_id")
    run = latest_run(con, period)
    return frame(con.sql(
        "WITH p AS (SELECT cost_center_id, sum(amount) AS plan FROM plan_line WHERE period = ? GROUP BY 1),"
        " a AS (SELECT cost_center_id, sum(posted_amount) AS actual FROM allocation_result"
        "       WHERE run_key = ? AND cost_center_id IS NOT NULL GROUP BY 1)"
        " SELECT u.unit_id AS cost_center_id, u.name, bu.name AS business_unit,"
        "  CAST(p.plan AS DECIMAL(18, 2)) AS plan, CAST(coalesce(a.actual, 0) AS DECIMAL(18, 2)) AS actual,"
        "  CAST(coalesce(a.actual, 0) - p.plan AS DECIMAL(18, 2)) AS variance,"
        "  round(100 * (coalesce(a.actual, 0) - p.plan) / nullif(p.plan, 0), 1)::DOUBLE AS variance_pct"
        " FROM org_unit u LEFT JOIN org_unit bu ON bu.unit_id = u.parent_id"
        " LEFT JOIN p ON p.cost_center_id = u.unit_id LEFT JOIN a ON a.cost_center_id = u.unit_id"
        f" WHERE u.kind = 'cost_center' AND (p.plan IS NOT NULL OR a.actual IS NOT NULL) AND {pred}"
        " ORDER BY u.unit_id", params=[period, run or "", *params]))
